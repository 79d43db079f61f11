//! `--timeline`: every request of a run, in the order sent, with when it was sent and how
//! long it took. A p99 says how many requests were slow, not whether they came together
//! (one stall of the server or its host, then the queue it made) or spread over the run
//! (a cost on every request); the timeline tells which, and lines up with a profile.

use std::io::{self, Write};

use crate::connection::{Outcome, Request};

/// Writes `outcome` as tab-separated lines sorted by send time: milliseconds from the
/// schedule's start, the server's latency and the latency as read (µs), the hit's path.
/// A comment line first gives the start on CLOCK_MONOTONIC (`start_monotonic`, seconds),
/// the clock `perf record -k CLOCK_MONOTONIC` stamps its samples with.
pub fn write(
    mut out: impl Write,
    outcome: &Outcome,
    requests: &[Request],
    start_monotonic: f64,
) -> io::Result<()> {
    let mut responses: Vec<_> = outcome.responses.iter().collect();
    responses.sort_by_key(|response| response.sent_at_us);
    writeln!(out, "# start: {start_monotonic:.6} s on CLOCK_MONOTONIC")?;
    writeln!(out, "sent_ms\tserver_us\tas_read_us\tpath")?;
    for response in responses {
        let path = requests
            .get(response.hit)
            .map_or("?", |request| request.path.as_str());
        writeln!(
            out,
            "{:.3}\t{}\t{}\t{path}",
            f64::from(response.sent_at_us) / 1000.0,
            response.server_latency_us,
            response.latency_us,
        )?;
    }
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connection::Response;

    fn request(path: &str) -> Request {
        Request {
            path: path.to_owned(),
            bytes: Vec::new(),
        }
    }

    #[test]
    fn lines_come_in_the_order_sent_with_each_requests_latencies_and_path() {
        // Two connections' outcomes joined: the second connection's request went first.
        let response = |sent_at_us, server_latency_us, latency_us, hit| Response {
            sent_at_us,
            latency_us,
            server_latency_us,
            hit,
        };
        let outcome = Outcome {
            responses: vec![
                response(1000, 30, 40, 0),
                response(1500, 2400, 2500, 1),
                response(250, 25, 35, 1),
            ],
            ..Outcome::default()
        };
        let requests = [request("/g/collect?en=page_view"), request("/mp/collect")];
        let mut out = Vec::new();
        write(&mut out, &outcome, &requests, 12.5).expect("writes to memory");
        assert_eq!(
            String::from_utf8(out).expect("UTF-8"),
            "# start: 12.500000 s on CLOCK_MONOTONIC\n\
             sent_ms\tserver_us\tas_read_us\tpath\n\
             0.250\t25\t35\t/mp/collect\n\
             1.000\t30\t40\t/g/collect?en=page_view\n\
             1.500\t2400\t2500\t/mp/collect\n"
        );
    }
}
