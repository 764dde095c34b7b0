//! Nothing: the benches are the point of this crate (see Cargo.toml).
