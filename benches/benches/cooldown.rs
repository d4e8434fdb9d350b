//! Cooldown gate benchmark (being written for issue 2).
fn main() {}
