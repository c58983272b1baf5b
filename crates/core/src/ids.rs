//! Positional ids: a record's id is its position in its column file.

use serde::Serialize;

macro_rules! positional_id {
    ($name:ident, $int:ty, $doc:literal) => {
        #[doc = $doc]
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
        pub struct $name(pub $int);
        impl $name {
            pub fn index(self) -> usize {
                self.0 as usize
            }
        }
        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

positional_id!(TxId, u64, "Position of a transaction in the store (0 = the genesis coinbase).");
positional_id!(InputId, u64, "Position of an input in the store; a transaction's inputs are contiguous.");
positional_id!(OutputId, u64, "Position of an output in the store; a transaction's outputs are contiguous.");
positional_id!(
    AddressId,
    u32,
    "Dense id of an address in the address dictionary. 32 bits, as in BlockSci: the whole \
     Bitcoin chain has under 2^32 distinct addresses; the writer refuses to overflow."
);
