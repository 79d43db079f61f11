//! One connection's share of the load: requests sent on a fixed schedule, each latency
//! measured from when the request was due (wrk2's model), so a slow response that delays
//! the next requests counts against the server instead of silently lowering the rate.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HOST};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::mix::Hit;

/// When a connection sends: its first request at `start + offset`, then one every
/// `interval`, until `end`.
#[derive(Debug, Clone, Copy)]
pub struct Schedule {
    pub start: Instant,
    pub offset: Duration,
    pub interval: Duration,
    pub end: Instant,
}

/// What one connection saw.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Microseconds from each request's due time to its full response.
    pub latencies_us: Vec<u32>,
    /// Responses whose status was not 2xx.
    pub non_2xx: u64,
}

/// Why a connection stopped early.
#[derive(Debug, thiserror::Error)]
pub enum ConnectionError {
    #[error("connecting to {addr}")]
    Connect {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("HTTP/1 handshake with {addr}")]
    Handshake {
        addr: SocketAddr,
        #[source]
        source: hyper::Error,
    },
    #[error("building the request for {path}")]
    Request {
        path: String,
        #[source]
        source: http::Error,
    },
    #[error("sending {path}")]
    Send {
        path: String,
        #[source]
        source: hyper::Error,
    },
    #[error("reading the response to {path}")]
    Response {
        path: String,
        #[source]
        source: hyper::Error,
    },
}

/// Sends the mix (taking the next hit from `next`, shared by all connections) on
/// `schedule` over one keep-alive connection to `addr`.
pub async fn run(
    addr: SocketAddr,
    hits: Arc<[Hit]>,
    next: Arc<AtomicUsize>,
    schedule: Schedule,
) -> Result<Outcome, ConnectionError> {
    let mut sender = connect(addr).await?;
    let host = addr.to_string();
    let mut outcome = Outcome::default();
    let mut due = schedule.start + schedule.offset;
    while due < schedule.end {
        let now = Instant::now();
        // On schedule: wait, then time from the actual send, as the timer may wake up to a
        // millisecond late and that is not the server's doing. Behind schedule (the last
        // response came late): send now and count the wait.
        let sent = if now < due {
            tokio::time::sleep_until(due.into()).await;
            Instant::now()
        } else {
            due
        };
        let hit = &hits[next.fetch_add(1, Ordering::Relaxed) % hits.len()];
        let ok = send(&mut sender, &host, hit).await?;
        let micros = sent.elapsed().as_micros();
        outcome
            .latencies_us
            .push(u32::try_from(micros).unwrap_or(u32::MAX));
        if !ok {
            outcome.non_2xx += 1;
        }
        due += schedule.interval;
    }
    Ok(outcome)
}

async fn connect(addr: SocketAddr) -> Result<SendRequest<Full<Bytes>>, ConnectionError> {
    let stream = TcpStream::connect(addr)
        .await
        .map_err(|source| ConnectionError::Connect { addr, source })?;
    // Latency, not throughput, is measured: send each small request at once.
    let _ = stream.set_nodelay(true);
    let (sender, connection) = http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|source| ConnectionError::Handshake { addr, source })?;
    // The connection's errors surface on the sender's next request.
    tokio::spawn(connection);
    Ok(sender)
}

/// Sends one hit and reads the whole response; true when its status is 2xx.
async fn send(
    sender: &mut SendRequest<Full<Bytes>>,
    host: &str,
    hit: &Hit,
) -> Result<bool, ConnectionError> {
    let mut request = http::Request::builder()
        .method(hit.method.clone())
        .uri(hit.path.as_str())
        .header(HOST, host);
    if let Some(content_type) = hit.content_type {
        request = request.header(CONTENT_TYPE, content_type);
    }
    let request = request
        .body(Full::new(hit.body.clone()))
        .map_err(|source| ConnectionError::Request {
            path: hit.path.clone(),
            source,
        })?;
    let send_error = |source| ConnectionError::Send {
        path: hit.path.clone(),
        source,
    };
    sender.ready().await.map_err(send_error)?;
    let response = sender.send_request(request).await.map_err(send_error)?;
    let ok = response.status().is_success();
    response
        .into_body()
        .collect()
        .await
        .map_err(|source| ConnectionError::Response {
            path: hit.path.clone(),
            source,
        })?;
    Ok(ok)
}
