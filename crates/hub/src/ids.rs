//! Randomness the hub needs from the operating system: client ids and the
//! seed of stream epochs.

/// A fresh client id: a random (version 4) UUID in its usual text form, as
/// Centrifugo gives its clients.
pub(crate) fn client_id() -> String {
    let mut bytes = [0u8; 16];
    fill(&mut bytes);
    // RFC 9562 §5.4: version 4 in the high nibble of byte 6, variant 0b10
    // in the top bits of byte 8.
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    // Built at its exact length: `format!` grows by doubling and would
    // leave a 64-byte allocation, held for the connection's whole life.
    let mut id = String::with_capacity(36);
    for (index, byte) in bytes.iter().enumerate() {
        if matches!(index, 4 | 6 | 8 | 10) {
            id.push('-');
        }
        id.push(hex_digit(byte >> 4));
        id.push(hex_digit(byte & 0x0f));
    }
    id
}

/// The lowercase hex digit of a nibble.
fn hex_digit(nibble: u8) -> char {
    char::from_digit(u32::from(nibble), 16).unwrap_or('0')
}

/// A seed for the node's epochs, so that a restarted server's streams get
/// epochs no client has seen (and recovery across a restart says
/// `recovered: false`).
pub(crate) fn epoch_seed() -> u64 {
    let mut bytes = [0u8; 8];
    fill(&mut bytes);
    u64::from_le_bytes(bytes)
}

fn fill(bytes: &mut [u8]) {
    if let Err(error) = getrandom::fill(bytes) {
        // Only on systems without a usable entropy source; a clock-based
        // fallback keeps ids unique per process, which is what they need.
        tracing::warn!(%error, "the OS random source failed; using a clock-based fallback");
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_nanos());
        for (index, byte) in bytes.iter_mut().enumerate() {
            *byte = (nanos >> ((index % 16) * 8)) as u8 ^ index as u8;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_ids_are_distinct_version_4_uuids() {
        let first = client_id();
        let second = client_id();
        assert_ne!(first, second);
        let groups: Vec<&str> = first.split('-').collect();
        assert_eq!(
            groups.iter().map(|g| g.len()).collect::<Vec<_>>(),
            [8, 4, 4, 4, 12]
        );
        assert!(groups[2].starts_with('4'), "{first}");
        assert!(matches!(&groups[3][..1], "8" | "9" | "a" | "b"), "{first}");
        assert!(first
            .chars()
            .all(|c| c == '-' || c.is_ascii_digit() || ('a'..='f').contains(&c)));
        assert_eq!(first.capacity(), 36, "no spare room held per connection");
    }
}
