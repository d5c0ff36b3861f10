//! Runtime init for LocalStack's process executor (`localstack/process-executor`).
//!
//! LocalStack's stock Lambda executor starts a Docker container per execution
//! environment with AWS's runtime interface emulator inside. Without Docker, the
//! process executor starts this binary instead, once per environment. It runs the
//! function's `bootstrap` (a `provided.al2023` zip, unpacked by LocalStack) as a child
//! process, serves it the Lambda Runtime API, and speaks LocalStack's executor-endpoint
//! protocol on the other side: status ready/error, invokes in, logs and
//! response/error out. Invocations that exceed the function's timeout kill the
//! bootstrap's process group; the next invocation starts a fresh one (a new init).
//!
//! Not emulated: memory limits (reported, not enforced), the filesystem layout
//! (`/var/task`, a private `/tmp`), extensions, layers, response streaming.
//!
//! The bootstrap is started through this binary's own "exec stage" (see [`child`]), so
//! `main` must call [`child::exec_stage_if_requested`] before anything else.

#![forbid(unsafe_code)]

pub mod child;
pub mod config;
pub mod report;
pub mod server;

pub use config::{Config, ConfigError};
pub use server::{run, InitError};
