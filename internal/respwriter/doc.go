// Package respwriter wraps an [http.ResponseWriter] to observe what a handler
// sends: the first final status code and the number of body bytes.
//
// [Wrap] (or [Writer.Reset]) returns the observing [Writer] and the
// [http.ResponseWriter] to hand to the handler. The handed writer implements exactly the optional
// interfaces of the original that matter to servers today — [http.Flusher],
// [http.Hijacker] and [io.ReaderFrom] — so a type assertion in the handler
// gives the same answer with or without the wrapper (server-sent events keep
// flushing, WebSocket upgrades keep hijacking, file responses keep using
// sendfile). It always implements Unwrap, so [http.ResponseController] reaches
// the original writer for deadlines, full duplex and anything else, and it
// implements io.StringWriter. [http.Pusher] (HTTP/2 server push, dropped by
// browsers) and the deprecated http.CloseNotifier are not passed through.
//
// Informational 1xx statuses other than 101 are passed through but not
// recorded, as net/http itself allows a final status after them. A write, a
// flush or a ReadFrom before any WriteHeader records 200, as net/http sends.
//
// A Writer is used by one handler goroutine, like the ResponseWriter it wraps;
// its accessors are meant to be read after the handler returns.
package respwriter
