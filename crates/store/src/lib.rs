//! The ledger store: BlockSci's layout (fixed-width column files, a record's id is its
//! position, inputs and outputs linked both ways), memory-mapped for reading and written
//! append-only with atomic commits. See ARCHITECTURE.md for the file list and costs.

pub mod column;
pub mod error;

pub mod hashindex;
pub mod ingest;
pub mod journal;
pub mod layout;
pub mod ledger;
pub mod manifest;
pub mod writer;

pub use error::StoreError;
pub use ledger::{Columns, Ledger, OutputRecord, TxRecord};
pub use manifest::Manifest;
pub use writer::{crash_point, Writer};
