//! A PostgreSQL session as the store's threads use it: blocking calls, and writes sent ahead
//! of their answers.
//!
//! On PostgreSQL every statement is a round trip to the server, and the writer's rate is the
//! number of its round trips (docs/performance.md, PostgreSQL). A write whose changed rows
//! nobody reads ([`Session::send`]) is sent at once and its answer read with the next
//! statement's: the server runs a session's statements in the order they come, so the next one
//! sees it, and one round trip carries both. [`Session::settle`] reads every answer still
//! owed; the store's writer calls it at the end of each write, so a statement that fails still
//! fails the write that sent it, and the writes after it are untouched (see
//! [`crate::store::writer`]). A query can be sent ahead too ([`Session::ask`]), or a write
//! whose count of changed rows is read later ([`Session::ask_changed`]), when the caller has
//! more to send before it needs the answer: the writer asks for the messages of a batch's acks
//! together, in one round trip instead of one each.
//!
//! Answers are read in the order their statements were sent: the driver hands each one over a
//! channel of one slot, and holds back the answers after it until that one is read. So every
//! call reads all the answers owed before its own, and keeps those of the statements asked
//! ahead among them until their askers take them.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use futures_util::TryStreamExt;
use tokio::runtime::Runtime;
use tokio::sync::mpsc;
use tokio_postgres::types::ToSql;
use tokio_postgres::{AsyncMessage, Client, Config, Error, NoTls, Row, RowStream, Statement};

use super::values::Owned;
use crate::store::{StoreError, StoreResult};

/// A write sent whose answer has not been read yet.
type Unanswered = Pin<Box<dyn Future<Output = Result<u64, Error>> + Send>>;

/// A statement asked ahead whose answer has not been read yet.
type Asking = Pin<Box<dyn Future<Output = Result<Said, Error>> + Send>>;

/// What the server answered a statement asked ahead.
pub(super) enum Said {
    /// A query's rows ([`Session::ask`]).
    Rows(Vec<Row>),
    /// How many rows a write changed ([`Session::ask_changed`]).
    Changed(u64),
}

/// A statement sent whose answer has not been read yet.
enum Owed {
    Write(Unanswered),
    Asked(Ticket, Asking),
}

/// Names a statement asked ahead, to take its answer by.
#[derive(Debug, PartialEq, Eq, Hash, Clone, Copy)]
pub(super) struct Ticket(u64);

/// The answers read so far of statements asked ahead, by their ticket, until their askers
/// take them.
type Read = HashMap<Ticket, Result<Said, Error>>;

pub(super) struct Session {
    /// Statements sent whose answers have not been read, oldest first.
    owed: Vec<Owed>,
    read: Read,
    /// The ticket of the next statement asked ahead.
    tickets: u64,
    client: Arc<Client>,
    /// What the server notified this session of (`LISTEN`), or how its connection ended. Only
    /// the cluster's listener listens, and it takes them every turn.
    notifications: mpsc::UnboundedReceiver<Result<String, Error>>,
    /// Runs the connection while a call waits on it; declared last, so it is dropped after
    /// everything that uses it.
    runtime: Runtime,
}

impl Session {
    pub(super) fn connect(config: &Config) -> StoreResult<Session> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(StoreError::Runtime)?;
        let (client, mut connection) = runtime.block_on(config.connect(NoTls))?;
        let (notify, notifications) = mpsc::unbounded_channel();
        runtime.spawn(async move {
            loop {
                let message = std::future::poll_fn(|cx| connection.poll_message(cx)).await;
                match message {
                    Some(Ok(AsyncMessage::Notification(notification))) => {
                        let _ = notify.send(Ok(notification.payload().to_owned()));
                    }
                    Some(Ok(AsyncMessage::Notice(notice))) => {
                        tracing::debug!(severity = notice.severity(), "{}", notice.message());
                    }
                    Some(Ok(_)) => {}
                    Some(Err(error)) => {
                        let _ = notify.send(Err(error));
                        break;
                    }
                    None => break,
                }
            }
        });
        Ok(Session {
            owed: Vec::new(),
            read: Read::new(),
            tickets: 0,
            client: Arc::new(client),
            notifications,
            runtime,
        })
    }

    pub(super) fn is_closed(&self) -> bool {
        self.client.is_closed()
    }

    pub(super) fn prepare(&mut self, sql: &str) -> Result<Statement, Error> {
        answer(
            &self.runtime,
            &mut self.owed,
            &mut self.read,
            self.client.prepare(sql),
        )
    }

    /// Runs `statement`; the rows it changed.
    pub(super) fn execute(
        &mut self,
        statement: &Statement,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<u64, Error> {
        let request = self.client.execute_raw(statement, params.iter().copied());
        answer(&self.runtime, &mut self.owed, &mut self.read, request)
    }

    /// Sends `statement` without waiting for its answer, which a later call reads.
    pub(super) fn send(&mut self, statement: Statement, params: Vec<Owned>) -> Result<(), Error> {
        let client = self.client.clone();
        let mut write: Unanswered = Box::pin(async move {
            let params = params.iter().map(|param| param as &(dyn ToSql + Sync));
            client.execute_raw(&statement, params).await
        });
        match self.runtime.block_on(polled_once(&mut write)) {
            Poll::Ready(answered) => answered.map(drop),
            Poll::Pending => {
                self.owed.push(Owed::Write(write));
                Ok(())
            }
        }
    }

    /// Sends `statement`, a query, without waiting for its rows, which [`Session::said`]
    /// reads with the answers of what is sent after it.
    pub(super) fn ask(&mut self, statement: Statement, params: Vec<Owned>) -> Ticket {
        let client = self.client.clone();
        self.asked(Box::pin(async move {
            let params = params.iter().map(|param| param as &(dyn ToSql + Sync));
            let rows = client.query_raw(&statement, params).await?;
            Ok(Said::Rows(rows.try_collect().await?))
        }))
    }

    /// Sends `statement`, a write, without waiting for the count of rows it changed, which
    /// [`Session::said`] reads with the answers of what is sent after it.
    pub(super) fn ask_changed(&mut self, statement: Statement, params: Vec<Owned>) -> Ticket {
        let client = self.client.clone();
        self.asked(Box::pin(async move {
            let params = params.iter().map(|param| param as &(dyn ToSql + Sync));
            Ok(Said::Changed(client.execute_raw(&statement, params).await?))
        }))
    }

    /// Queues `asking` on the connection, behind what was sent before it.
    fn asked(&mut self, mut asking: Asking) -> Ticket {
        let ticket = Ticket(self.tickets);
        self.tickets += 1;
        match self.runtime.block_on(polled_once(&mut asking)) {
            Poll::Ready(said) => drop(self.read.insert(ticket, said)),
            Poll::Pending => self.owed.push(Owed::Asked(ticket, asking)),
        }
        ticket
    }

    /// The answer to the statement asked with `ticket`, reading every answer owed if it is not
    /// read yet; `None` if it was dropped, the write that asked having ended.
    pub(super) fn said(&mut self, ticket: Ticket) -> Result<Option<Said>, Error> {
        if !self.read.contains_key(&ticket) {
            self.read_owed()?;
        }
        self.read.remove(&ticket).transpose()
    }

    /// Reads the answers of every statement sent: the first failure, if one failed, whether a
    /// write's or that of a statement asked ahead whose answer nobody took. Answers not taken
    /// are dropped.
    pub(super) fn settle(&mut self) -> Result<(), Error> {
        self.read_owed()?;
        let untaken = std::mem::take(&mut self.read);
        untaken
            .into_values()
            .find_map(Result::err)
            .map_or(Ok(()), Err)
    }

    /// Reads the answers of every statement sent, keeping those asked ahead for their askers.
    fn read_owed(&mut self) -> Result<(), Error> {
        match self.owed.is_empty() {
            true => Ok(()),
            false => answer(&self.runtime, &mut self.owed, &mut self.read, async {
                Ok(())
            }),
        }
    }

    /// Forgets the statements sent, whose transaction is being rolled back: the server still
    /// runs them, before what is sent next, and their answers are dropped unread.
    pub(super) fn forget(&mut self) {
        self.owed.clear();
        self.read.clear();
    }

    pub(super) fn batch_execute(&mut self, sql: &str) -> Result<(), Error> {
        answer(
            &self.runtime,
            &mut self.owed,
            &mut self.read,
            self.client.batch_execute(sql),
        )
    }

    /// Starts a query; its rows are read with [`Session::next_row`].
    pub(super) fn query(
        &mut self,
        statement: &Statement,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Pin<Box<RowStream>>, Error> {
        let request = self.client.query_raw(statement, params.iter().copied());
        answer(&self.runtime, &mut self.owed, &mut self.read, async {
            Ok(Box::pin(request.await?))
        })
    }

    pub(super) fn next_row(
        &mut self,
        rows: &mut Pin<Box<RowStream>>,
    ) -> Result<Option<Row>, Error> {
        self.runtime.block_on(rows.try_next())
    }

    /// The payloads the server notified this session of: waits up to `wait` for the first,
    /// then takes every one already there.
    pub(super) fn notifications(&mut self, wait: Duration) -> Result<Vec<String>, Error> {
        let notifications = &mut self.notifications;
        // The timer is made inside the runtime, which it needs.
        let first = self
            .runtime
            .block_on(async { tokio::time::timeout(wait, notifications.recv()).await });
        let mut payloads = match first {
            Err(_elapsed) => return Ok(Vec::new()),
            Ok(Some(first)) => vec![first?],
            // The connection ended without saying why: the next statement says it.
            Ok(None) => return self.batch_execute("").map(|()| Vec::new()),
        };
        while let Ok(next) = self.notifications.try_recv() {
            payloads.push(next?);
        }
        Ok(payloads)
    }
}

/// Sends `request` behind the statements still `owed` and waits for every answer, in one
/// round trip: the first failure is the call's, the earlier writes' before its own; the
/// answers of the statements asked ahead go to `read`. Takes the session's parts, so that `request` may
/// borrow its client.
fn answer<T>(
    runtime: &Runtime,
    owed: &mut Vec<Owed>,
    read: &mut Read,
    request: impl Future<Output = Result<T, Error>>,
) -> Result<T, Error> {
    let owed = std::mem::take(owed);
    runtime.block_on(async move {
        let mut request = std::pin::pin!(request);
        // The request is queued before any answer is awaited.
        let own = polled_once(&mut request).await;
        let mut earlier = Ok(());
        for statement in owed {
            match statement {
                Owed::Write(write) => {
                    if let (Err(error), Ok(())) = (write.await, &earlier) {
                        earlier = Err(error);
                    }
                }
                Owed::Asked(ticket, asking) => drop(read.insert(ticket, asking.await)),
            }
        }
        let own = match own {
            Poll::Ready(answered) => answered,
            Poll::Pending => request.await,
        };
        earlier.and(own)
    })
}

/// Polls `request` once: the driver queues a statement on the connection at its first poll,
/// behind the statements queued before it.
async fn polled_once<F: Future + Unpin>(request: &mut F) -> Poll<F::Output> {
    std::future::poll_fn(|cx| Poll::Ready(Pin::new(&mut *request).poll(cx))).await
}
