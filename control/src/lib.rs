//! The Runtime API (HAProxy's stats socket protocol). Not yet implemented.
#![forbid(unsafe_code)]
