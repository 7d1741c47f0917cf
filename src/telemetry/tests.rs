use super::*;

fn sample() -> RequestLine<'static> {
    RequestLine {
        request_id: "abc123",
        method: "GET",
        path: "/api/v1/le\"ads\n",
        route: "(unmatched)",
        status: 404,
        latency: Duration::from_micros(1_234),
        ip: "10.0.0.7",
        token_prefix: "-",
        code: "not_found",
    }
}

#[test]
fn a_json_request_line_is_one_object_with_the_fields_of_a_tracing_event() {
    let mut out = Vec::new();
    format_request_line(
        &mut out,
        &sample(),
        STYLE_JSON,
        "2026-11-28T14:31:54.987030Z",
    );
    assert_eq!(out.iter().filter(|b| **b == b'\n').count(), 1);
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(
        v,
        serde_json::json!({
            "timestamp": "2026-11-28T14:31:54.987030Z", "level": "INFO", "message": "request",
            "method": "GET", "path": "/api/v1/le\"ads\n", "route": "(unmatched)", "status": 404,
            "latency_ms": 1.234, "ip": "10.0.0.7", "token_prefix": "-", "code": "not_found",
            "target": "switchboard::ops::request_log",
            "spans": [{"request_id": "abc123", "name": "request"}]
        })
    );
}

#[test]
fn a_plain_request_line_reads_like_the_other_lines() {
    let mut out = Vec::new();
    let line = RequestLine {
        path: "/healthz",
        route: "/healthz",
        status: 200,
        code: "-",
        ..sample()
    };
    format_request_line(&mut out, &line, STYLE_PLAIN, "2026-11-28T14:31:58.519531Z");
    assert_eq!(
        String::from_utf8(out.clone()).unwrap(),
        "2026-11-28T14:31:58.519531Z  INFO request{request_id=abc123}: request method=GET \
         path=/healthz route=/healthz status=200 latency_ms=1.234 ip=10.0.0.7 \
         token_prefix=\"-\" code=\"-\"\n"
    );
    let mut coloured = Vec::new();
    format_request_line(
        &mut coloured,
        &line,
        STYLE_ANSI,
        "2026-11-28T14:31:58.519531Z",
    );
    let coloured = String::from_utf8(coloured).unwrap();
    assert!(coloured.contains("\x1b[2m=\x1b[0m"), "{coloured:?}");
    let mut plain = String::new();
    for (i, part) in coloured.split("\x1b[").enumerate() {
        plain.push_str(if i == 0 {
            part
        } else {
            &part[part.find('m').unwrap() + 1..]
        });
    }
    assert_eq!(
        plain,
        String::from_utf8(out).unwrap(),
        "colour changes nothing else"
    );
    let mut stamp = [0; STAMP_LEN];
    let now = utc_now_us(&mut stamp);
    assert_eq!((now.len(), &now[26..]), (27, "Z"), "{now}");
}

#[test]
fn strings_are_quoted_as_debug_quotes_them() {
    for s in [
        "",
        "-",
        "sb_ab12CD34",
        "not_found",
        "a\"b",
        "back\\slash",
        "tab\t",
        "é",
        "\u{7f}",
    ] {
        let mut out = Vec::new();
        push_debug_str(&mut out, s);
        assert_eq!(String::from_utf8(out).unwrap(), format!("{s:?}"));
    }
}

// One test: the gathered lines are process-wide, and tests run in parallel.
#[test]
fn gathered_lines_stay_bounded_and_go_out_before_a_direct_line() {
    let line = [b'x'; 1000];
    for _ in 0..200 {
        Line::Gathered.write_all(&line).unwrap();
        assert!(pending().len() <= BUFFER_LIMIT);
    }
    Line::Gathered.write_all(b"request line\n").unwrap();
    assert!(pending().ends_with(b"request line\n"));
    Line::Direct.write_all(b"warning line\n").unwrap();
    assert!(pending().is_empty());
}
