//! Intelligence about who is behind addresses: sanctions lists (OFAC SDN, with the history
//! of listings and delistings) and attribution tags (GraphSense TagPacks and ActorPacks),
//! kept with their provenance in one SQLite file in the data directory (`intel.sqlite`).
//!
//! The ledger graph never goes in here; this crate knows nothing of the ledger store.

pub mod db;
pub mod sanctions;
pub mod tagpack;

pub use db::{Intel, IntelError};
