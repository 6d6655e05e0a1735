//! HAProxy's default error responses (`http_err_msgs` in HAProxy's `src/http.c`),
//! as HAProxy 2.x puts them on the wire: its H1 multiplexer writes header names in
//! lower case, and adds `connection: close` after the other fields when it closes
//! the connection (always for 400 and 408, whose text already carries it for 408).

macro_rules! err_msg {
    ($name:ident, $close:ident, $status:literal, $reason:literal, $len:literal, $body:literal) => {
        #[doc = concat!("`", $status, " ", $reason, "` with HAProxy's default body, connection kept.")]
        pub const $name: &[u8] = concat!(
            "HTTP/1.1 ",
            $status,
            " ",
            $reason,
            "\r\n",
            "content-length: ",
            $len,
            "\r\n",
            "cache-control: no-cache\r\n",
            "content-type: text/html\r\n",
            "\r\n",
            $body
        )
        .as_bytes();
        #[doc = concat!("`", $status, " ", $reason, "` with HAProxy's default body, then close.")]
        pub const $close: &[u8] = concat!(
            "HTTP/1.1 ",
            $status,
            " ",
            $reason,
            "\r\n",
            "content-length: ",
            $len,
            "\r\n",
            "cache-control: no-cache\r\n",
            "content-type: text/html\r\n",
            "connection: close\r\n",
            "\r\n",
            $body
        )
        .as_bytes();
    };
}

err_msg!(
    HTTP_400,
    HTTP_400_CLOSE,
    "400",
    "Bad request",
    "90",
    "<html><body><h1>400 Bad request</h1>\nYour browser sent an invalid request.\n</body></html>\n"
);
err_msg!(
    HTTP_403,
    HTTP_403_CLOSE,
    "403",
    "Forbidden",
    "93",
    "<html><body><h1>403 Forbidden</h1>\nRequest forbidden by administrative rules.\n</body></html>\n"
);
err_msg!(
    HTTP_404,
    HTTP_404_CLOSE,
    "404",
    "Not Found",
    "83",
    "<html><body><h1>404 Not Found</h1>\nThe resource could not be found.\n</body></html>\n"
);
err_msg!(
    HTTP_500,
    HTTP_500_CLOSE,
    "500",
    "Internal Server Error",
    "97",
    "<html><body><h1>500 Internal Server Error</h1>\nAn internal server error occurred.\n</body></html>\n"
);
err_msg!(HTTP_502, HTTP_502_CLOSE, "502", "Bad Gateway", "107",
    "<html><body><h1>502 Bad Gateway</h1>\nThe server returned an invalid or incomplete response.\n</body></html>\n");
err_msg!(HTTP_503, HTTP_503_CLOSE, "503", "Service Unavailable", "107",
    "<html><body><h1>503 Service Unavailable</h1>\nNo server is available to handle this request.\n</body></html>\n");
err_msg!(
    HTTP_504,
    HTTP_504_CLOSE,
    "504",
    "Gateway Time-out",
    "92",
    "<html><body><h1>504 Gateway Time-out</h1>\nThe server didn't respond in time.\n</body></html>\n"
);

/// `408 Request Time-out`: HAProxy's text carries `Connection: close` itself (it
/// always closes after it), between `cache-control` and `content-type`.
pub const HTTP_408: &[u8] = concat!(
    "HTTP/1.1 408 Request Time-out\r\n",
    "content-length: 110\r\n",
    "cache-control: no-cache\r\n",
    "connection: close\r\n",
    "content-type: text/html\r\n",
    "\r\n",
    "<html><body><h1>408 Request Time-out</h1>\nYour browser didn't send a complete request in time.\n</body></html>\n"
)
.as_bytes();

/// HAProxy's default answer for `status` (500's for codes it has no text for),
/// with `connection: close` when `close` is true. 400 and 408 always close.
pub fn default_response(status: u16, close: bool) -> &'static [u8] {
    match (status, close) {
        (400, _) => HTTP_400_CLOSE,
        (403, false) => HTTP_403,
        (403, true) => HTTP_403_CLOSE,
        (404, false) => HTTP_404,
        (404, true) => HTTP_404_CLOSE,
        (408, _) => HTTP_408,
        (502, false) => HTTP_502,
        (502, true) => HTTP_502_CLOSE,
        (503, false) => HTTP_503,
        (503, true) => HTTP_503_CLOSE,
        (504, false) => HTTP_504,
        (504, true) => HTTP_504_CLOSE,
        (_, false) => HTTP_500,
        (_, true) => HTTP_500_CLOSE,
    }
}

/// True when HAProxy always closes the connection after this error.
pub fn always_closes(status: u16) -> bool {
    matches!(status, 400 | 408)
}

/// `100 Continue`, sent when a request carries `Expect: 100-continue`.
pub const HTTP_100: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";

#[cfg(test)]
mod tests {
    use super::*;

    /// The content-length written in each message matches its body.
    #[test]
    fn content_lengths_are_exact() {
        let all = [
            HTTP_400,
            HTTP_400_CLOSE,
            HTTP_403,
            HTTP_403_CLOSE,
            HTTP_404,
            HTTP_404_CLOSE,
            HTTP_408,
            HTTP_500,
            HTTP_500_CLOSE,
            HTTP_502,
            HTTP_502_CLOSE,
            HTTP_503,
            HTTP_503_CLOSE,
            HTTP_504,
            HTTP_504_CLOSE,
        ];
        for m in all {
            let s = std::str::from_utf8(m).unwrap();
            let (head, body) = s.split_once("\r\n\r\n").unwrap();
            let cl: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length: "))
                .unwrap()
                .parse()
                .unwrap();
            assert_eq!(cl, body.len(), "{head}");
        }
    }

    #[test]
    fn matches_haproxy_503_byte_for_byte() {
        assert_eq!(
            HTTP_503,
            b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 107\r\ncache-control: no-cache\r\ncontent-type: text/html\r\n\r\n<html><body><h1>503 Service Unavailable</h1>\nNo server is available to handle this request.\n</body></html>\n"
        );
        assert_eq!(default_response(400, false), HTTP_400_CLOSE);
        assert_eq!(default_response(418, false), HTTP_500);
    }
}
