//! The `switchboard` binary.

fn main() {
    println!("switchboard: the server is not built yet");
}
