//! A TCP proxy in front of a server that resets connections mid-request: every `every`th chunk a
//! client sends (about one per request on a kept-alive connection) either never reaches the
//! server or reaches it and gets no answer, alternately; the connection is then reset (RST).

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    task::JoinHandle,
};

/// What the proxy did, for the test to show the faults happened.
#[derive(Debug, Default)]
pub struct Counts {
    /// Connections accepted.
    pub connections: AtomicU64,
    /// Chunks forwarded to the server.
    pub forwarded: AtomicU64,
    /// Connections reset before their chunk reached the server.
    pub reset_before: AtomicU64,
    /// Connections reset after their chunk reached the server, before any answer.
    pub reset_after: AtomicU64,
}

/// A running proxy; dropping it stops it.
pub struct ResetProxy {
    addr: SocketAddr,
    counts: Arc<Counts>,
    task: JoinHandle<()>,
}

impl ResetProxy {
    /// Listens on a free port of 127.0.0.1 and forwards to `upstream`.
    pub async fn start(upstream: SocketAddr, every: u64) -> ResetProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let counts = Arc::new(Counts::default());
        let chunks = Arc::new(AtomicU64::new(0));
        let c = counts.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                c.connections.fetch_add(1, Ordering::Relaxed);
                let (c, chunks) = (c.clone(), chunks.clone());
                tokio::spawn(async move {
                    if let Ok(server) = TcpStream::connect(upstream).await {
                        pipe(client, server, every, &chunks, &c).await;
                    }
                });
            }
        });
        ResetProxy { addr, counts, task }
    }

    /// The address clients connect to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// What happened so far.
    pub fn counts(&self) -> &Counts {
        &self.counts
    }
}

impl Drop for ResetProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Closes `s` with a reset rather than a clean end.
// A zero linger does not block on drop (the deprecation is about non-zero ones): the socket is
// reset at once, which is the point.
#[allow(deprecated)]
fn reset(s: TcpStream) {
    let _ = s.set_linger(Some(Duration::ZERO));
    drop(s);
}

async fn pipe(
    mut client: TcpStream,
    mut server: TcpStream,
    every: u64,
    chunks: &AtomicU64,
    c: &Counts,
) {
    let mut up = vec![0u8; 64 * 1024];
    let mut down = vec![0u8; 64 * 1024];
    loop {
        tokio::select! {
            r = client.read(&mut up) => {
                let n = match r {
                    Ok(0) | Err(_) => return,
                    Ok(n) => n,
                };
                let i = chunks.fetch_add(1, Ordering::Relaxed) + 1;
                let fault = every > 0 && i.is_multiple_of(every);
                let before = fault && (i / every) % 2 == 1;
                if !before {
                    if server.write_all(&up[..n]).await.is_err() {
                        return;
                    }
                    c.forwarded.fetch_add(1, Ordering::Relaxed);
                }
                if fault {
                    if before {
                        c.reset_before.fetch_add(1, Ordering::Relaxed);
                    } else {
                        c.reset_after.fetch_add(1, Ordering::Relaxed);
                        // The server takes the request in; its answer is never relayed.
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                    reset(client);
                    return;
                }
            }
            r = server.read(&mut down) => {
                let n = match r {
                    Ok(0) | Err(_) => return,
                    Ok(n) => n,
                };
                if client.write_all(&down[..n]).await.is_err() {
                    return;
                }
            }
        }
    }
}
