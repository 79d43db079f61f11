//! Reading responses with the kernel's receive timestamp (`SO_TIMESTAMPNS`): when the
//! last bytes read reached this machine's network stack, before the generator's thread
//! got to them.
//!
//! Why: the generator's core is a virtual CPU like the server's, and the host stops it
//! now and then for milliseconds. A response that arrives while it is stopped is read
//! late, and the time it lay in the socket would count as the server's. On loopback the
//! timestamp is taken as the server's write is delivered (in the server's own system
//! call), so it is the moment the server answered, whatever the generator was doing.

use std::io::{self, IoSliceMut};
use std::os::fd::{AsFd, AsRawFd};
use std::time::{Duration, SystemTime};

use bytes::BytesMut;
use nix::sys::socket::{ControlMessageOwned, MsgFlags, recvmsg, setsockopt, sockopt};
use nix::sys::time::TimeSpec;
use tokio::io::Interest;
use tokio::net::TcpStream;

/// Asks the kernel to timestamp what `stream` receives.
pub fn enable(stream: &impl AsFd) -> io::Result<()> {
    setsockopt(stream, sockopt::ReceiveTimestampns, &true).map_err(io::Error::from)
}

/// One read: what arrived is appended to `buffer`. Returns the bytes read (0: the peer
/// closed) and the receive timestamp of the last of them, when the kernel gave one.
pub async fn read(
    stream: &TcpStream,
    buffer: &mut BytesMut,
) -> io::Result<(usize, Option<SystemTime>)> {
    let mut chunk = [0u8; 4096];
    let (read, arrived) = stream
        .async_io(Interest::READABLE, || {
            receive(stream, &mut chunk, MsgFlags::MSG_DONTWAIT)
        })
        .await?;
    buffer.extend_from_slice(&chunk[..read]);
    Ok((read, arrived))
}

/// One `recvmsg` into `chunk`: the bytes read and their receive timestamp, if any.
fn receive(
    socket: &impl AsRawFd,
    chunk: &mut [u8],
    flags: MsgFlags,
) -> io::Result<(usize, Option<SystemTime>)> {
    let mut control = nix::cmsg_space!(TimeSpec);
    let mut slices = [IoSliceMut::new(chunk)];
    let message = recvmsg::<()>(socket.as_raw_fd(), &mut slices, Some(&mut control), flags)
        .map_err(io::Error::from)?;
    let arrived = message
        .cmsgs()
        .map_err(io::Error::from)?
        .find_map(|cmsg| match cmsg {
            ControlMessageOwned::ScmTimestampns(at) => Some(wall_time(at)),
            _ => None,
        });
    Ok((message.bytes, arrived))
}

/// A `CLOCK_REALTIME` timespec as a `SystemTime`.
fn wall_time(at: TimeSpec) -> SystemTime {
    let seconds = u64::try_from(at.tv_sec()).unwrap_or(0);
    let nanos = u32::try_from(at.tv_nsec()).unwrap_or(0);
    SystemTime::UNIX_EPOCH + Duration::new(seconds, nanos)
}

/// For tests: returns once the kernel timestamps TCP that arrives over loopback. The
/// kernel turns receive timestamps on for the whole machine when the first socket asks,
/// in deferred work, and TCP reports only the timestamps taken on arrival, so a socket
/// that has just asked may read its first bytes untimestamped (a test failed 2 runs in
/// 5 that way on a machine with no other timestamping socket). Call it after [`enable`]
/// on the socket under test, which keeps them on once they are.
#[cfg(test)]
pub(crate) fn wait_until_the_kernel_timestamps() {
    use std::io::Write;

    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("binds");
    let client =
        std::net::TcpStream::connect(listener.local_addr().expect("address")).expect("connects");
    enable(&client).expect("SO_TIMESTAMPNS");
    client
        .set_read_timeout(Some(Duration::from_millis(100)))
        .expect("read timeout");
    let (mut server, _) = listener.accept().expect("accepts");
    for _ in 0..200 {
        server.write_all(b"x").expect("writes");
        let (_, arrived) =
            receive(&client, &mut [0u8; 1], MsgFlags::empty()).expect("reads the byte");
        if arrived.is_some() {
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    panic!("the kernel timestamped no loopback TCP within a second");
}

#[cfg(test)]
mod tests {
    use tokio::io::AsyncWriteExt;
    use tokio::net::TcpListener;

    use super::*;

    #[tokio::test]
    async fn a_response_read_late_carries_the_time_it_arrived() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("binds");
        let addr = listener.local_addr().expect("address");
        let client = TcpStream::connect(addr).await.expect("connects");
        enable(&client).expect("SO_TIMESTAMPNS");
        wait_until_the_kernel_timestamps();
        let (mut server, _) = listener.accept().await.expect("accepts");

        let before = SystemTime::now();
        server.write_all(b"hello").await.expect("writes");
        // The generator stalled: the bytes lie in the socket for 50 ms before the read.
        std::thread::sleep(Duration::from_millis(50));
        let mut buffer = BytesMut::new();
        let (read, arrived) = read(&client, &mut buffer).await.expect("reads");
        let after = SystemTime::now();

        assert_eq!((read, &buffer[..]), (5, &b"hello"[..]));
        let arrived = arrived.expect("the kernel timestamps TCP on loopback");
        assert!(
            arrived >= before,
            "{arrived:?} before the write at {before:?}"
        );
        let lay = after
            .duration_since(arrived)
            .expect("arrived before the read");
        assert!(lay >= Duration::from_millis(50), "{lay:?}");
    }
}
