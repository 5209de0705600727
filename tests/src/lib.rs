//! The harness of Mosaic's end-to-end tests: real `mosaic-node`,
//! `mosaic-worker` and `mosaic` processes on loopback.
//!
//! * [`binary`] builds the three binaries once per test process (a no-op
//!   when they are fresh) in this workspace's target directory and answers
//!   their paths, so `cargo test -p mosaic-tests` works from a clean tree.
//! * [`Process`]: a child whose stderr is forwarded (labelled) and kept, so
//!   a test waits for a log line with a timeout instead of sleeping.
//! * [`Network`]: a `--dev` validator and workers registered with dev
//!   accounts, each on its own port, with helpers to run the CLI.
//! * [`GatewayProcess`]: a `mosaic gateway` of a network and a small HTTP
//!   client to ask it.
//! * [`js_script`], [`run_js`]: the Helia scripts of `tests/js` on their
//!   Node 22.

pub mod bench;
mod gateway;
mod js;
mod network;
mod process;

pub use gateway::{GatewayProcess, HttpResponse};
pub use js::{js_script, run_js};
pub use network::{put_public_args, write_sample, Network, WorkerSlot, DEV_PROVIDERS};
pub use process::{binary, free_port, run, Process};
