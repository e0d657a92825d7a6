//! Serde helpers for the JSON form of the protocol messages.
//!
//! Centrifugo's JSON omits every field that holds its default value, and
//! carries `bytes` fields (`data`, `conn_info`, `chan_info`, RPC payloads) as
//! embedded JSON values rather than base64 strings. These helpers give the
//! derived serde impls exactly that shape.

/// Whether a field holds its default value, so the JSON form omits it.
pub(crate) fn is_default<T: Default + PartialEq>(value: &T) -> bool {
    *value == T::default()
}

/// `bytes` fields as embedded raw JSON values.
///
/// Encoding checks that the bytes are one valid JSON value (anything else
/// cannot be embedded without breaking the reply) and writes them verbatim,
/// except that line breaks, which valid JSON can only hold as whitespace, become
/// spaces: a raw newline would split the newline-delimited batch. Decoding
/// keeps the exact text of the value.
pub(crate) mod raw_json {
    use bytes::Bytes;
    use serde::de::Deserializer;
    use serde::ser::{Error as _, Serializer};
    use serde::Deserialize as _;
    use serde::Serialize as _;
    use serde_json::value::RawValue;

    /// The message of the serializer error for a bytes field that is not
    /// JSON, the only way encoding a message to JSON can fail.
    const NOT_JSON: &str = "bytes field is not a valid JSON value";

    /// Writes `bytes` as an embedded JSON value.
    pub(crate) fn serialize<S: Serializer>(
        bytes: &Bytes,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        let raw: &RawValue =
            serde_json::from_slice(bytes).map_err(|_| S::Error::custom(NOT_JSON))?;
        let text = raw.get();
        if text.contains(['\n', '\r']) {
            let flattened = text.replace(['\n', '\r'], " ");
            let raw = RawValue::from_string(flattened).map_err(|_| S::Error::custom(NOT_JSON))?;
            raw.serialize(serializer)
        } else {
            raw.serialize(serializer)
        }
    }

    /// Reads an embedded JSON value as the bytes of its text.
    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Bytes, D::Error> {
        let raw = Box::<RawValue>::deserialize(deserializer)?;
        let text: Box<str> = raw.into();
        Ok(Bytes::from(String::from(text)))
    }
}
