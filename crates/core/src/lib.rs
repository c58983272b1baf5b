//! Vocabulary shared by every fundtrace crate: positional ids, hashes, output kinds.
//!
//! Positional ids (`TxId`, `InputId`, ...) are record numbers in the ledger store's column
//! files; hashes (`Txid`, `BlockHash`) are what the outside world calls things. The two are
//! different types so they cannot be mixed up.

pub mod date;
pub mod fasthash;
pub mod hash;
pub mod ids;
pub mod script_type;
pub mod testdata;

pub use date::Date;
pub use hash::{hex_decode, hex_encode, BlockHash, Hash32, Txid};
pub use ids::{AddressId, InputId, OutputId, TxId};
pub use script_type::ScriptType;
