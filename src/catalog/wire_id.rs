//! Wire ids: the one-byte number the sink's log stores for an operation,
//! an event type or an api-version. They are written next to each name in
//! the catalog and never depend on where a row sits, so adding a value in
//! alphabetical order cannot make an existing log replay under other
//! names (`tests/fixtures/wal/` holds logs of every format version that
//! must keep decoding to the same names).

/// Wire ids fit six bits: packed series keep them in bits 2-7.
pub(super) const WIRE_IDS: usize = 64;

/// `wire_id` and `from_wire_id` for a `#[repr(u8)]` enum whose
/// discriminants are its wire ids, checked at compile time to be unique
/// and below [`WIRE_IDS`].
macro_rules! wire_ids {
    ($enum:ident, $what:literal) => {
        impl $enum {
            /// The number the sink's log stores for this value.
            pub fn wire_id(self) -> u8 {
                self as u8
            }

            /// The value a log's wire id names, if any.
            pub fn from_wire_id(id: u8) -> Option<$enum> {
                const BY_ID: [Option<$enum>; $crate::catalog::wire_id::WIRE_IDS] = {
                    let mut by_id = [None; $crate::catalog::wire_id::WIRE_IDS];
                    let mut i = 0;
                    while i < $enum::ALL.len() {
                        let value = $enum::ALL[i];
                        let id = value as usize;
                        assert!(
                            id < $crate::catalog::wire_id::WIRE_IDS,
                            concat!("a ", $what, "'s wire id is above 63")
                        );
                        assert!(
                            by_id[id].is_none(),
                            concat!("two ", $what, "s share a wire id")
                        );
                        by_id[id] = Some(value);
                        i += 1;
                    }
                    by_id
                };
                BY_ID.get(id as usize).copied().flatten()
            }
        }
    };
}
pub(crate) use wire_ids;
