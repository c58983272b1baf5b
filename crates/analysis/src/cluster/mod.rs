//! Address clustering: the multi-input heuristic with CoinJoin exclusion, optional
//! change-output merges, and the evidence of every merge (methods.md §2).

pub mod build;
pub mod evaluate;
pub mod explain;
pub mod store;
pub mod unionfind;

pub use build::{update, update_with_tags, ClusterError, Progress, UpdateSummary};
pub use explain::{explain, Explanation, Step};
pub use store::{ClusterConfig, ClusterManifest, Clusters, Merge, MergeKind};
