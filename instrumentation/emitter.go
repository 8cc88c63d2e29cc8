package instrumentation

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// An audited response's event goes down the Auditor, the Logs SDK and the
// processor chain: some 10 KB of stack under the handler's frames. Run on
// the request's goroutine, that makes a server's connection goroutines
// grow their stacks (8 to 16 KB) on an audited request; the garbage
// collector halves every parked goroutine's stack that uses less than a
// quarter of it, so under load each connection's next audited request
// copies its stack again (on loopback with 5 % of requests audited, some
// 1.5k instructions per request). emitter runs the events on a few worker
// goroutines instead: the request's goroutine hands its event over and
// waits for it to be emitted (nothing about when or in what order the
// event is emitted changes), and only the workers' stacks grow.
//
// It pays when events are the exception (OK responses not audited, the
// default): a connection's goroutine then runs an event only now and
// then, after the collector has shrunk its stack. When every response is
// audited (WithLogOKResponses), the request's goroutine keeps its large
// stack between collections anyway, and the handover (some 3.6k
// instructions) would cost more than the copies it saves: the Middleware
// then has no emitter and emits on the request's goroutine.
//
// Workers start on demand, up to maxWorkers; when none is free and no
// more may start, the event is emitted on the request's goroutine as
// before. A worker ends after an idle period, so a Middleware that is no
// longer used leaves no goroutine behind. A panicking handler's event is
// always emitted on its own goroutine (its stack trace is the handler's).
type emitter struct {
	jobs    chan *emitJob // unbuffered: a send succeeds only to a free worker
	workers atomic.Int32
	max     int32
}

// emitIdle is how long a worker waits for an event before it ends (between
// one and two periods). Its ticker is all a worker costs while busy.
const emitIdle = 500 * time.Millisecond

// emitJob is one response event handed to a worker.
type emitJob struct {
	m         *Middleware
	ctx       context.Context
	r         *http.Request
	x         *exchange
	status    int
	duration  time.Duration
	sampledAt float64
	done      chan struct{} // buffered: the worker never blocks on it
}

var jobPool = sync.Pool{New: func() any { return &emitJob{done: make(chan struct{}, 1)} }}

func newEmitter(workers int) *emitter {
	return &emitter{jobs: make(chan *emitJob), max: int32(max(1, workers))}
}

// emit emits the response event of x on a worker, or on this goroutine
// when none is free and no more may start, and returns when it is done.
func (e *emitter) emit(m *Middleware, ctx context.Context, r *http.Request, x *exchange, status int, duration time.Duration, sampledAt float64) {
	j := jobPool.Get().(*emitJob)
	j.m, j.ctx, j.r, j.x, j.status, j.duration, j.sampledAt = m, ctx, r, x, status, duration, sampledAt
	select {
	case e.jobs <- j:
		<-j.done
	default:
		if e.workers.Add(1) <= e.max {
			go e.work(j)
			<-j.done
		} else {
			e.workers.Add(-1)
			j.run()
		}
	}
	j.m, j.ctx, j.r, j.x = nil, nil, nil, nil // no references to the request
	jobPool.Put(j)
}

// work runs first, then the jobs it is handed, until it has been idle for
// a whole period.
func (e *emitter) work(first *emitJob) {
	idle := time.NewTicker(emitIdle)
	defer idle.Stop()
	j, busy := first, true
	for {
		if j != nil {
			j.run()
			j.done <- struct{}{}
			j, busy = nil, true
		}
		select {
		case j = <-e.jobs:
		case <-idle.C:
			if !busy {
				e.workers.Add(-1)
				return
			}
			busy = false
		}
	}
}

// run emits the job's event. A panic is recovered and counted, as record
// does on the request's goroutine.
func (j *emitJob) run() {
	defer func() {
		if recover() != nil {
			j.m.stats.auditPanics.Add(1)
		}
	}()
	j.m.emitResponse(j.ctx, j.r, j.x, nil, j.status, j.duration, j.sampledAt)
}
