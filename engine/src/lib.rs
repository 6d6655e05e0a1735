//! ringlb's data plane: the config model and parser, the lock-free backend tables,
//! and the per-core io_uring event loops. Knows nothing of the Runtime API's text formats.

pub mod balance;
pub mod build;
pub mod config;
pub mod counters;
pub mod h1;
pub mod http;
pub mod log;
pub mod map;
pub mod plan;
pub mod rules;
pub mod sys;
pub mod table;
pub mod tcp;
pub mod uring;
pub mod worker;
