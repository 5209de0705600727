//! Chain specs: the embedded `dev` and `local` specs built from the runtime's
//! genesis presets, and JSON load/save for `build-spec` and `--chain PATH`.
//!
//! Status: placeholder; built under issue 4.
