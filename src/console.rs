//! The daemon's standard output, which its log lines and the pairing codes it draws share.
//!
//! A device waiting to be linked shows a new code every few seconds, each some twenty lines
//! tall: printed one under the other they scroll everything else away. On a terminal a new
//! code is drawn over the one before (the cursor moved up over it, the screen cleared below),
//! as long as nothing was written since; a log line written in between stays, and the next
//! code is drawn under it. That is why the log lines go through here too: the console knows
//! what was written last. Output that is not a terminal (a file, a pipe, a journal) gets each
//! code once, as text, with no escape codes.

use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex, MutexGuard};

/// The daemon's output: cheap to clone, one for the whole process.
#[derive(Clone)]
pub struct Console {
    shared: Arc<Shared>,
}

struct Shared {
    terminal: bool,
    state: Mutex<State>,
}

struct State {
    out: Box<dyn Write + Send>,
    /// The drawing last written, if nothing was written after it.
    last: Option<Drawing>,
}

/// A drawing on show: whose it is, and how many lines it took.
struct Drawing {
    owner: String,
    lines: usize,
}

impl Console {
    /// The process's standard output; drawings are redrawn in place when it is a terminal.
    pub fn stdout() -> Console {
        let terminal = std::io::stdout().is_terminal();
        Console::new(Box::new(std::io::stdout()), terminal)
    }

    /// A console writing to `out`, which is a terminal or not.
    pub fn new(out: Box<dyn Write + Send>, terminal: bool) -> Console {
        Console {
            shared: Arc::new(Shared {
                terminal,
                state: Mutex::new(State { out, last: None }),
            }),
        }
    }

    /// Whether the output is a terminal (which understands colours and cursor moves).
    pub fn is_terminal(&self) -> bool {
        self.shared.terminal
    }

    /// Draws `text` (whole lines) for `owner`. On a terminal it takes the place of `owner`'s
    /// previous drawing when that is the last thing written.
    pub fn draw(&self, owner: &str, text: &str) {
        let mut drawing = String::with_capacity(text.len() + 16);
        let mut state = self.state();
        if let Some(last) = state.last.take().filter(|last| last.owner == owner) {
            if self.shared.terminal {
                // Up to the first line of the previous drawing, then clear to the screen's end.
                drawing.push_str(&format!("\x1b[{}F\x1b[J", last.lines));
            }
        }
        drawing.push_str(text);
        if !text.ends_with('\n') {
            drawing.push('\n');
        }
        state.write(drawing.as_bytes());
        state.last = Some(Drawing {
            owner: owner.to_owned(),
            lines: drawing.matches('\n').count(),
        });
    }

    /// Writes `text` as it is, under whatever was written before.
    pub fn print(&self, text: &str) {
        let mut state = self.state();
        state.last = None;
        state.write(text.as_bytes());
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while writing leaves nothing half-updated that matters: carry on.
        self.shared
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl State {
    /// Writes and flushes: standard output is only line-buffered, and a drawing must be on
    /// screen whole before anything else is written. A console that cannot be written to has
    /// nobody reading it, so the bytes are dropped.
    fn write(&mut self, bytes: &[u8]) {
        let _ = self.out.write_all(bytes).and_then(|()| self.out.flush());
    }
}

impl std::fmt::Debug for Console {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Console")
            .field("terminal", &self.shared.terminal)
            .finish_non_exhaustive()
    }
}

/// Where one log line goes: the console, as text written under the last drawing.
pub struct LogLine<'c>(&'c Console);

impl Write for LogLine<'_> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let mut state = self.0.state();
        state.last = None;
        state.write(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'c> tracing_subscriber::fmt::MakeWriter<'c> for Console {
    type Writer = LogLine<'c>;

    fn make_writer(&'c self) -> Self::Writer {
        LogLine(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a console wrote, readable by the test.
    #[derive(Clone, Default)]
    struct Written(Arc<Mutex<Vec<u8>>>);

    impl Write for Written {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Written {
        fn take(&self) -> String {
            String::from_utf8(std::mem::take(&mut *self.0.lock().unwrap())).unwrap()
        }
    }

    fn console(terminal: bool) -> (Console, Written) {
        let written = Written::default();
        (Console::new(Box::new(written.clone()), terminal), written)
    }

    #[test]
    fn on_a_terminal_a_new_code_is_drawn_over_the_last_one_of_its_device() {
        let (console, written) = console(true);
        console.draw("demo", "code 1\n██\nlink 1\n");
        assert_eq!(written.take(), "code 1\n██\nlink 1\n");
        console.draw("demo", "code 2\n██\nlink 2\n");
        assert_eq!(written.take(), "\x1b[3F\x1b[Jcode 2\n██\nlink 2\n");
        // Another device's code does not erase this one's.
        console.draw("other", "code 1\n");
        assert_eq!(written.take(), "code 1\n");
        console.draw("demo", "code 3\n");
        assert_eq!(written.take(), "code 3\n");
    }

    #[test]
    fn a_log_line_or_a_print_after_a_code_stays_and_the_next_code_goes_under_it() {
        let (console, written) = console(true);
        console.draw("demo", "code 1\n");
        use tracing_subscriber::fmt::MakeWriter;
        console
            .make_writer()
            .write_all(b"INFO a log line\n")
            .unwrap();
        console.draw("demo", "code 2\n");
        assert_eq!(written.take(), "code 1\nINFO a log line\ncode 2\n");
        console.print("banner\n");
        console.draw("demo", "code 3\n");
        assert_eq!(written.take(), "banner\ncode 3\n");
    }

    #[test]
    fn elsewhere_each_code_is_written_once_without_escape_codes() {
        let (console, written) = console(false);
        assert!(!console.is_terminal());
        console.draw("demo", "code 1\n");
        console.draw("demo", "code 2");
        assert_eq!(written.take(), "code 1\ncode 2\n");
    }
}
