//! One accepted TCP connection, as the rest of the API sees it: how many bytes it has written
//! to its peer, and a way to close it from outside.
//!
//! Socket.IO gives no handle on a connection's transport and no count of what waits in its
//! outgoing queue, and its `disconnect()` fails while that queue is full — exactly when a slow
//! consumer has to go. So the server wraps every accepted stream in [`Metered`]: the bytes it
//! writes tell the socket edge how much of what it queued has left (see
//! [`crate::api::socket`]'s outbound accounting), and [`ConnectionMeter::close`] ends the
//! stream under whatever is using it, HTTP or an upgraded WebSocket alike.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_util::task::AtomicWaker;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::OwnedSemaphorePermit;

/// What the rest of the daemon knows of one connection; every request it carries has it in
/// its extensions.
#[derive(Debug, Default)]
pub struct ConnectionMeter {
    written: AtomicU64,
    closed: AtomicBool,
    reader: AtomicWaker,
    writer: AtomicWaker,
}

impl ConnectionMeter {
    /// Bytes written to the peer so far (handed to the kernel, not necessarily received).
    pub fn written(&self) -> u64 {
        self.written.load(Ordering::Relaxed)
    }

    /// Ends the connection: its next read sees the end of the stream and its next write fails,
    /// and a read or write waiting for the peer is woken to find out. Whatever serves the
    /// connection then drops it, which closes the socket.
    pub fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.reader.wake();
        self.writer.wake();
    }

    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }
}

/// A stream that counts what it writes and can be closed through its [`ConnectionMeter`].
pub struct Metered<S> {
    stream: S,
    meter: Arc<ConnectionMeter>,
    /// The connection's place under `limits.max_connections`, given back when the stream is
    /// dropped: for a WebSocket, when the socket closes, long after its HTTP request ended.
    _place: Option<OwnedSemaphorePermit>,
}

impl<S> Metered<S> {
    pub fn new(
        stream: S,
        meter: Arc<ConnectionMeter>,
        place: Option<OwnedSemaphorePermit>,
    ) -> Self {
        Self {
            stream,
            meter,
            _place: place,
        }
    }
}

fn closed_error() -> io::Error {
    io::Error::new(io::ErrorKind::ConnectionAborted, "closed by the server")
}

impl<S: AsyncRead + Unpin> AsyncRead for Metered<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        // Registered before the check, so a close between the two still wakes this read.
        self.meter.reader.register(cx.waker());
        if self.meter.is_closed() {
            return Poll::Ready(Err(closed_error()));
        }
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Metered<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.meter.writer.register(cx.waker());
        if self.meter.is_closed() {
            return Poll::Ready(Err(closed_error()));
        }
        let written = Pin::new(&mut self.stream).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = written {
            self.meter.written.fetch_add(n as u64, Ordering::Relaxed);
        }
        written
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.meter.writer.register(cx.waker());
        if self.meter.is_closed() {
            return Poll::Ready(Err(closed_error()));
        }
        let written = Pin::new(&mut self.stream).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(n)) = written {
            self.meter.written.fetch_add(n as u64, Ordering::Relaxed);
        }
        written
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.meter.writer.register(cx.waker());
        if self.meter.is_closed() {
            return Poll::Ready(Err(closed_error()));
        }
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn counts_what_it_writes() {
        let (near, mut far) = tokio::io::duplex(64);
        let meter = Arc::new(ConnectionMeter::default());
        let mut stream = Metered::new(near, meter.clone(), None);
        stream.write_all(b"hello").await.unwrap();
        let mut got = [0; 5];
        far.read_exact(&mut got).await.unwrap();
        assert_eq!(meter.written(), 5);
    }

    #[tokio::test]
    async fn close_wakes_a_blocked_write_and_a_blocked_read() {
        // A peer that reads nothing: the write blocks once the pipe is full.
        let (near, _far) = tokio::io::duplex(8);
        let meter = Arc::new(ConnectionMeter::default());
        let (mut reading, mut writing) = tokio::io::split(Metered::new(near, meter.clone(), None));
        let writer = tokio::spawn(async move { writing.write_all(&[0; 64]).await });
        let reader = tokio::spawn(async move { reading.read(&mut [0; 8]).await });
        tokio::task::yield_now().await;
        meter.close();
        let wrote = tokio::time::timeout(std::time::Duration::from_secs(5), writer)
            .await
            .expect("the write is woken")
            .unwrap();
        assert_eq!(wrote.unwrap_err().kind(), io::ErrorKind::ConnectionAborted);
        let read = tokio::time::timeout(std::time::Duration::from_secs(5), reader)
            .await
            .expect("the read is woken")
            .unwrap();
        assert!(read.is_err());
    }
}
