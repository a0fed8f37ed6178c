//! How csi reacts to SIGINT and SIGTERM.
//!
//! While a child process runs (terraform apply, a restore), the first signal is
//! forwarded to it exactly once and csi waits for it to stop gracefully; a second
//! signal is not forwarded (terraform would exit at once and might lose state). When no
//! child runs, csi runs the registered cleanups (release the lock, journal the
//! interruption, delete private temp files) and exits with 130.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

use nix::sys::signal::Signal;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::watch;

type Cleanup = Box<dyn FnOnce() + Send>;

static CHILDREN: AtomicUsize = AtomicUsize::new(0);
static NEXT_CLEANUP_ID: AtomicUsize = AtomicUsize::new(0);

fn cleanups() -> &'static Mutex<Vec<(usize, Cleanup)>> {
    static CLEANUPS: OnceLock<Mutex<Vec<(usize, Cleanup)>>> = OnceLock::new();
    CLEANUPS.get_or_init(|| Mutex::new(Vec::new()))
}

type SignalChannel = (
    watch::Sender<Option<Signal>>,
    watch::Receiver<Option<Signal>>,
);

fn channel() -> &'static SignalChannel {
    static CHANNEL: OnceLock<SignalChannel> = OnceLock::new();
    CHANNEL.get_or_init(|| watch::channel(None))
}

/// Starts listening for SIGINT and SIGTERM. Call once, inside the runtime.
pub fn install() -> std::io::Result<()> {
    let mut int = signal(SignalKind::interrupt())?;
    let mut term = signal(SignalKind::terminate())?;
    tokio::spawn(async move {
        loop {
            let received = tokio::select! {
                _ = int.recv() => Signal::SIGINT,
                _ = term.recv() => Signal::SIGTERM,
            };
            on_signal(received);
        }
    });
    Ok(())
}

fn on_signal(received: Signal) {
    if CHILDREN.load(Ordering::SeqCst) > 0 {
        let (sender, _) = channel();
        if sender.borrow().is_some() {
            crate::output::signal_notice(&format!(
                "{received} again: still waiting for the running command to stop gracefully"
            ));
        }
        sender.send_replace(Some(received));
        return;
    }
    run_cleanups();
    crate::output::signal_notice(&format!("interrupted by {received}"));
    std::process::exit(130);
}

/// The signal received so far, if any.
pub fn received() -> Option<Signal> {
    *channel().1.borrow()
}

/// A receiver that changes when a signal arrives.
pub fn subscribe() -> watch::Receiver<Option<Signal>> {
    channel().1.clone()
}

/// Marks a child as running: signals are forwarded to it instead of ending csi.
pub struct ChildGuard(());

impl ChildGuard {
    pub fn enter() -> Self {
        CHILDREN.fetch_add(1, Ordering::SeqCst);
        ChildGuard(())
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        CHILDREN.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Something to undo if csi must exit on a signal; deregistered when dropped.
pub struct CleanupGuard(usize);

pub fn on_interrupt(cleanup: impl FnOnce() + Send + 'static) -> CleanupGuard {
    let id = NEXT_CLEANUP_ID.fetch_add(1, Ordering::SeqCst);
    lock_cleanups().push((id, Box::new(cleanup)));
    CleanupGuard(id)
}

impl Drop for CleanupGuard {
    fn drop(&mut self) {
        lock_cleanups().retain(|(id, _)| *id != self.0);
    }
}

fn lock_cleanups() -> std::sync::MutexGuard<'static, Vec<(usize, Cleanup)>> {
    cleanups().lock().unwrap_or_else(|e| e.into_inner())
}

/// Newest first, like destructors.
fn run_cleanups() {
    let all: Vec<(usize, Cleanup)> = lock_cleanups().drain(..).collect();
    for (_, cleanup) in all.into_iter().rev() {
        cleanup();
    }
}
