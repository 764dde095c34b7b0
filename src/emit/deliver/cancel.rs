//! A stop signal as a value: raised once, never lowered, awaited by
//! whoever must end early. `run` makes one for Ctrl-C and hands it down
//! (pre-pass, delivery, check), so a Ctrl-C is never forgotten between
//! stages, as a process-wide flag reset when delivery started was; the
//! driver makes its own for "stop at the first failure".

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::sync::Notify;

#[derive(Clone, Debug, Default)]
pub struct Cancel(Arc<Inner>);

#[derive(Debug, Default)]
struct Inner {
    raised: AtomicBool,
    notify: Notify,
}

impl Cancel {
    pub fn new() -> Cancel {
        Cancel::default()
    }

    /// Raises the signal for every clone; raising it again changes nothing.
    pub fn cancel(&self) {
        self.0.raised.store(true, Ordering::SeqCst);
        self.0.notify.notify_waiters();
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.raised.load(Ordering::SeqCst)
    }

    /// Resolves once the signal is raised (at once if it already is).
    pub async fn cancelled(&self) {
        loop {
            // Made before the flag is read: `notify_waiters` wakes every
            // `Notified` that exists when it is called, so a raise between
            // the read and the await is not missed.
            let notified = self.0.notify.notified();
            if self.is_cancelled() {
                return;
            }
            notified.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn every_clone_sees_it_and_it_stays_raised() {
        let cancel = Cancel::new();
        let waiter = tokio::spawn({
            let cancel = cancel.clone();
            async move { cancel.cancelled().await }
        });
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert!(!waiter.is_finished());
        cancel.clone().cancel();
        waiter.await.unwrap();
        assert!(cancel.is_cancelled());
        // Later waiters return at once.
        tokio::time::timeout(Duration::from_millis(1), cancel.cancelled())
            .await
            .unwrap();
    }
}
