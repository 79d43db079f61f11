//! One connection's share of the load: requests sent on a fixed schedule, each latency
//! measured from when the request was due (wrk2's model), so a slow response that delays
//! the next requests counts against the server instead of silently lowering the rate.
//!
//! Each request is timed twice. As the generator saw it: from its due time (or its send,
//! when on schedule) to the moment the generator had read the whole response. And as
//! the server answered it: from the send to the kernel's receive timestamp of the
//! response ([`crate::arrival`]), plus however long the server's previous response on
//! this connection held the request past its due time. The second leaves out the
//! generator's own stalls (its thread descheduled, its virtual CPU stopped by the host)
//! and keeps everything the server did, including the queue its slowness built.
//!
//! HTTP/1.1 is spoken directly over the socket, each request written from bytes rendered
//! once ([`Request`]) and each response read with `httparse`, as wrk does: the generator
//! shares one core with nothing but itself and must stay far below the rates it measures
//! (a hyper client per connection cost about 30 µs a request, enough to make the
//! generator, not the server, the bottleneck at 20k requests/s).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime};

use bytes::{Buf, BytesMut};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::arrival;
use crate::mix::Hit;
use crate::pacer::{Pacer, PacerError};

/// When a connection sends: its first request at `start + offset`, then one every
/// `interval`, until `end`.
#[derive(Debug, Clone, Copy)]
pub struct Schedule {
    pub start: Instant,
    pub offset: Duration,
    pub interval: Duration,
    pub end: Instant,
}

/// One request as the generator saw it.
#[derive(Debug, Clone, Copy)]
pub struct Response {
    /// Microseconds from the schedule's start to the request's send: where in the run it
    /// was (`--timeline`).
    pub sent_at_us: u32,
    /// Microseconds from the request's due time to its full response, as read.
    pub latency_us: u32,
    /// Microseconds the server took with it (module docs).
    pub server_latency_us: u32,
    /// The mix's index of the hit sent.
    pub hit: usize,
}

/// What one connection saw.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Every request answered, in the order this connection sent them.
    pub responses: Vec<Response>,
    /// Responses the kernel gave no receive timestamp; their server latency ends when
    /// the generator read them.
    pub untimestamped: u64,
    /// Responses whose status was not 2xx.
    pub non_2xx: u64,
}

impl Outcome {
    /// Adds another connection's outcome to this one.
    pub fn merge(&mut self, other: Outcome) {
        self.responses.extend(other.responses);
        self.untimestamped += other.untimestamped;
        self.non_2xx += other.non_2xx;
    }
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
    #[error("asking for receive timestamps (SO_TIMESTAMPNS)")]
    Timestamps(#[source] std::io::Error),
    #[error("sending {path}")]
    Send {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("reading the response to {path}")]
    Receive {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the server closed the connection before answering {path}")]
    Closed { path: String },
    #[error("the response to {path} is not HTTP/1.1: {reason}")]
    Malformed { path: String, reason: String },
    #[error("waiting for the next request's due time")]
    Pace(#[from] PacerError),
}

/// A hit rendered once as the bytes of an HTTP/1.1 request.
#[derive(Debug, Clone)]
pub struct Request {
    pub path: String,
    pub bytes: Vec<u8>,
}

impl Request {
    /// `hit` as sent to `host`: keep-alive, with its body's type and length.
    pub fn render(hit: &Hit, host: &str) -> Self {
        let mut head = format!("{} {} HTTP/1.1\r\nHost: {host}\r\n", hit.method, hit.path);
        for (name, value) in &hit.headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        if let Some(content_type) = hit.content_type {
            head.push_str(&format!("Content-Type: {content_type}\r\n"));
        }
        if !hit.body.is_empty() || hit.method == http::Method::POST {
            head.push_str(&format!("Content-Length: {}\r\n", hit.body.len()));
        }
        head.push_str("\r\n");
        let mut bytes = head.into_bytes();
        bytes.extend_from_slice(&hit.body);
        Request {
            path: hit.path.clone(),
            bytes,
        }
    }
}

/// Sends the mix (taking the next request from `next`, shared by all connections) on
/// `schedule` over one keep-alive connection to `addr`.
pub async fn run(
    addr: SocketAddr,
    requests: Arc<[Request]>,
    next: Arc<AtomicUsize>,
    schedule: Schedule,
) -> Result<Outcome, ConnectionError> {
    let mut stream = TcpStream::connect(addr)
        .await
        .map_err(|source| ConnectionError::Connect { addr, source })?;
    // Latency, not throughput, is measured: send each small request at once.
    let _ = stream.set_nodelay(true);
    arrival::enable(&stream).map_err(ConnectionError::Timestamps)?;
    let mut pacer = Pacer::new()?;
    let mut buffer = BytesMut::with_capacity(4096);
    let mut outcome = Outcome::default();
    let mut due = schedule.start + schedule.offset;
    // When the previous response on this connection reached the kernel.
    let mut previous_arrived: Option<SystemTime> = None;
    while due < schedule.end {
        let now = Instant::now();
        // On schedule: wait, then time from the actual send, as the timer (or the
        // generator's one thread, busy with another connection) may wake it a little late
        // and that is not the server's doing. Behind schedule (the last response came
        // late): send now and count the wait.
        if now < due {
            pacer.wait_until(due).await?;
        }
        let index = next.fetch_add(1, Ordering::Relaxed) % requests.len();
        let request = &requests[index];
        let (send_at, send_wall) = (Instant::now(), SystemTime::now());
        let sent = if now < due { send_at } else { due };
        let due_wall = wall_time(due, send_at, send_wall);
        stream
            .write_all(&request.bytes)
            .await
            .map_err(|source| ConnectionError::Send {
                path: request.path.clone(),
                source,
            })?;
        let (status, arrived) = read_response(&mut stream, &mut buffer, &request.path).await?;
        let latency_us = micros(sent.elapsed());
        let arrived = arrived.unwrap_or_else(|| {
            outcome.untimestamped += 1;
            SystemTime::now()
        });
        let took = server_time(send_wall, arrived, due_wall, previous_arrived);
        outcome.responses.push(Response {
            sent_at_us: micros(sent.saturating_duration_since(schedule.start)),
            latency_us,
            server_latency_us: micros(took),
            hit: index,
        });
        previous_arrived = Some(arrived);
        if !(200..300).contains(&status) {
            outcome.non_2xx += 1;
        }
        due += schedule.interval;
    }
    Ok(outcome)
}

/// The server's share of a request's latency (module docs): from `sent` to `arrived`,
/// plus how long the previous response on the connection (`previous_arrived`) held the
/// request past its `due` time. The generator's own delay between that response and
/// the send is left out.
fn server_time(
    sent: SystemTime,
    arrived: SystemTime,
    due: SystemTime,
    previous_arrived: Option<SystemTime>,
) -> Duration {
    let answering = arrived.duration_since(sent).unwrap_or(Duration::ZERO);
    let held = previous_arrived
        .and_then(|previous| previous.duration_since(due).ok())
        .unwrap_or(Duration::ZERO);
    answering + held
}

/// Whole microseconds, saturating.
fn micros(duration: Duration) -> u32 {
    u32::try_from(duration.as_micros()).unwrap_or(u32::MAX)
}

/// The wall-clock time of `instant`, given that `now` is `now_wall`.
fn wall_time(instant: Instant, now: Instant, now_wall: SystemTime) -> SystemTime {
    if instant <= now {
        now_wall - (now - instant)
    } else {
        now_wall + (instant - now)
    }
}

/// How the body of a response ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    Length(usize),
    Chunked,
}

/// Reads one whole response off `stream` (bytes already read in `buffer`, what follows it
/// left there) and returns its status code and when its last bytes reached the kernel
/// (`None`: no timestamp given, or nothing of it had to be read).
async fn read_response(
    stream: &mut TcpStream,
    buffer: &mut BytesMut,
    path: &str,
) -> Result<(u16, Option<SystemTime>), ConnectionError> {
    let mut arrived = None;
    let malformed = |reason: String| ConnectionError::Malformed {
        path: path.to_owned(),
        reason,
    };
    let (status, framing, head_len) = loop {
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut response = httparse::Response::new(&mut headers);
        match response.parse(buffer) {
            Ok(httparse::Status::Complete(head_len)) => {
                let status = response.code.unwrap_or_default();
                let framing = framing(status, response.headers).map_err(malformed)?;
                break (status, framing, head_len);
            }
            Ok(httparse::Status::Partial) => arrived = fill(stream, buffer, path).await?,
            Err(error) => return Err(malformed(error.to_string())),
        }
    };
    buffer.advance(head_len);
    match framing {
        Framing::Length(len) => {
            while buffer.len() < len {
                arrived = fill(stream, buffer, path).await?;
            }
            buffer.advance(len);
        }
        Framing::Chunked => loop {
            let line_end = loop {
                if let Some(at) = buffer.windows(2).position(|w| w == b"\r\n") {
                    break at;
                }
                arrived = fill(stream, buffer, path).await?;
            };
            let size = std::str::from_utf8(&buffer[..line_end])
                .ok()
                .and_then(|line| usize::from_str_radix(line.split(';').next()?.trim(), 16).ok())
                .ok_or_else(|| malformed("a chunk size that is not hexadecimal".to_owned()))?;
            // The size line, the chunk and its CRLF (the last chunk: no trailers expected).
            let chunk_len = line_end + 2 + size + 2;
            while buffer.len() < chunk_len {
                arrived = fill(stream, buffer, path).await?;
            }
            buffer.advance(chunk_len);
            if size == 0 {
                break;
            }
        },
    }
    Ok((status, arrived))
}

/// The body framing of a response with `status` and `headers`.
fn framing(status: u16, headers: &[httparse::Header<'_>]) -> Result<Framing, String> {
    if status == 204 || status == 304 || (100..200).contains(&status) {
        return Ok(Framing::Length(0));
    }
    for header in headers {
        if header.name.eq_ignore_ascii_case("content-length") {
            return std::str::from_utf8(header.value)
                .ok()
                .and_then(|v| v.trim().parse().ok())
                .map(Framing::Length)
                .ok_or_else(|| "a Content-Length that is not a number".to_owned());
        }
        if header.name.eq_ignore_ascii_case("transfer-encoding")
            && header.value.eq_ignore_ascii_case(b"chunked")
        {
            return Ok(Framing::Chunked);
        }
    }
    Err(format!(
        "status {status} without Content-Length or chunked body (a keep-alive response must have one)"
    ))
}

/// Reads more of the response into `buffer`; when what was read reached the kernel.
async fn fill(
    stream: &mut TcpStream,
    buffer: &mut BytesMut,
    path: &str,
) -> Result<Option<SystemTime>, ConnectionError> {
    let (read, arrived) =
        arrival::read(stream, buffer)
            .await
            .map_err(|source| ConnectionError::Receive {
                path: path.to_owned(),
                source,
            })?;
    if read == 0 {
        return Err(ConnectionError::Closed {
            path: path.to_owned(),
        });
    }
    Ok(arrived)
}

#[cfg(test)]
mod tests {
    use tokio::io::AsyncReadExt;
    use tokio::net::TcpListener;

    use super::*;

    /// Serves `answers` in turn, one per request head read, then closes.
    async fn server(answers: Vec<&'static [u8]>) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("binds");
        let addr = listener.local_addr().expect("address");
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.expect("accepts");
            let mut seen = Vec::new();
            for answer in answers {
                while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                    let mut chunk = [0u8; 1024];
                    let n = socket.read(&mut chunk).await.expect("reads");
                    seen.extend_from_slice(&chunk[..n]);
                }
                seen.clear();
                // Split the answer across writes so the reader must wait for the rest.
                let (first, rest) = answer.split_at(answer.len() / 2);
                socket.write_all(first).await.expect("writes");
                tokio::time::sleep(Duration::from_millis(2)).await;
                socket.write_all(rest).await.expect("writes");
            }
        });
        addr
    }

    #[tokio::test]
    async fn reads_length_chunked_and_empty_responses_back_to_back_on_one_connection() {
        let addr = server(vec![
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
            b"HTTP/1.1 204 No Content\r\n\r\n",
            b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n\r\n",
        ])
        .await;
        let mut stream = TcpStream::connect(addr).await.expect("connects");
        arrival::enable(&stream).expect("SO_TIMESTAMPNS");
        arrival::wait_until_the_kernel_timestamps();
        let mut buffer = BytesMut::new();
        let mut statuses = Vec::new();
        for _ in 0..4 {
            stream
                .write_all(b"GET / HTTP/1.1\r\n\r\n")
                .await
                .expect("sends");
            let sent = SystemTime::now();
            let (status, arrived) = read_response(&mut stream, &mut buffer, "/")
                .await
                .expect("reads");
            // Timed by the second half, written 2 ms after the first.
            let arrived = arrived.expect("a receive timestamp");
            let took = arrived
                .duration_since(sent)
                .expect("arrived after the send");
            assert!(took >= Duration::from_millis(2), "{took:?}");
            statuses.push(status);
        }
        assert_eq!(statuses, [200, 200, 204, 503]);
        assert!(buffer.is_empty(), "nothing of a response is left over");
    }

    #[tokio::test]
    async fn a_response_without_framing_is_an_error_naming_the_request() {
        let addr = server(vec![b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n"]).await;
        let mut stream = TcpStream::connect(addr).await.expect("connects");
        stream
            .write_all(b"GET / HTTP/1.1\r\n\r\n")
            .await
            .expect("sends");
        let error = read_response(&mut stream, &mut BytesMut::new(), "/g/collect")
            .await
            .unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("the response to /g/collect is not HTTP/1.1"),
            "{error}"
        );
    }

    #[test]
    fn the_server_is_charged_for_holding_a_request_past_its_due_time_but_not_for_the_generator() {
        let at = |ms: u64| SystemTime::UNIX_EPOCH + Duration::from_millis(ms);
        // On schedule: due at 100, sent at 101 (the generator woke late), answered at 103.
        assert_eq!(
            server_time(at(101), at(103), at(100), Some(at(90))),
            Duration::from_millis(2)
        );
        // The previous response came at 108, 8 ms past this request's due time; the
        // generator, stalled, sent it only at 120; answered at 121.
        assert_eq!(
            server_time(at(120), at(121), at(100), Some(at(108))),
            Duration::from_millis(9)
        );
        // The first request of a connection has no previous response.
        assert_eq!(server_time(at(100), at(100), at(100), None), Duration::ZERO);
    }

    #[test]
    fn a_post_is_rendered_with_its_type_and_length_and_a_get_with_its_headers_and_no_body() {
        let post = Hit {
            method: http::Method::POST,
            path: "/mp/collect?api_secret=s".to_owned(),
            content_type: Some("application/json"),
            headers: Vec::new(),
            body: bytes::Bytes::from_static(b"{}"),
        };
        assert_eq!(
            Request::render(&post, "127.0.0.1:1").bytes,
            b"POST /mp/collect?api_secret=s HTTP/1.1\r\nHost: 127.0.0.1:1\r\n\
              Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
        );
        let get = Hit {
            method: http::Method::GET,
            path: "/g/collect?en=page_view".to_owned(),
            content_type: None,
            headers: vec![("User-Agent".to_owned(), "Mozilla/5.0".to_owned())],
            body: bytes::Bytes::new(),
        };
        assert_eq!(
            Request::render(&get, "h").bytes,
            b"GET /g/collect?en=page_view HTTP/1.1\r\nHost: h\r\nUser-Agent: Mozilla/5.0\r\n\r\n"
        );
    }
}
