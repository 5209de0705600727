//! Progress bars on stderr (`indicatif`), shown only when stderr is a
//! terminal and the caller did not ask for quiet or JSON output.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressStyle};

/// A byte counter that may be drawn.
#[derive(Clone)]
pub struct Progress(Option<ProgressBar>);

impl Progress {
    /// A bar over `total` bytes labelled `label`, drawn if `show` and
    /// stderr is a terminal.
    pub fn bytes(total: u64, label: &str, show: bool) -> Self {
        if !show || !std::io::stderr().is_terminal() {
            return Progress(None);
        }
        let bar = ProgressBar::new(total);
        bar.set_style(
            ProgressStyle::with_template(
                "{msg:>10} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} eta {eta}",
            )
            .expect("the template parses; qed")
            .progress_chars("=> "),
        );
        bar.set_message(label.to_string());
        Progress(Some(bar))
    }

    /// Nothing drawn.
    pub fn hidden() -> Self {
        Progress(None)
    }

    /// `bytes` more done.
    pub fn add(&self, bytes: u64) {
        if let Some(bar) = &self.0 {
            bar.inc(bytes);
        }
    }

    /// Replaces the label.
    pub fn label(&self, label: String) {
        if let Some(bar) = &self.0 {
            bar.set_message(label);
        }
    }

    /// Removes the bar.
    pub fn finish(&self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
        }
    }
}
