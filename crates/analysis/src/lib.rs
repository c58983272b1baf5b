//! Forensics on the ledger store: what kind of transaction this is (CoinJoin detectors), who
//! controls which addresses (clustering with recorded evidence), where value went (taint
//! models, traces) and how exposed an address is (risk).

pub mod change;
pub mod cluster;
pub mod coinjoin;
pub mod entity;
pub mod exposure;
pub mod expr;
pub mod path;
pub mod risk;
pub mod trace;
pub mod txview;

pub use txview::TxView;
