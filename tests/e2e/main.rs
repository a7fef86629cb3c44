//! End-to-end tests: the real `kopru` binary on an ephemeral port, on the embedded
//! store and on PostgreSQL + Redis. One test binary; modules by theme.

mod fakes;
mod harness;

mod bad_input;
mod browser;
mod burst;
mod channels;
mod cli;
mod clinic;
mod clinic_api;
mod eval;
mod ops;
mod resilience;
mod webchat;
