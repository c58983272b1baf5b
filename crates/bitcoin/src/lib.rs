//! Bitcoin as a source: Bitcoin Core's block files, the block and transaction wire format,
//! output scripts and the address strings people use.
//!
//! Nothing here knows about the ledger store; `fundtrace-store` turns decoded blocks into
//! column records.

pub mod address;
pub mod blkfile;
pub mod chain;
pub mod decode;
pub mod encode;
pub mod hash;
pub mod merkle;
pub mod network;
pub mod script;

pub use address::{AddressKey, AddressParseError};
pub use decode::{Block, DecodeError, Header, Input, Output, Transactions, Tx};
pub use network::Network;
