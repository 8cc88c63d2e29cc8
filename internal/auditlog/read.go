package auditlog

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"time"
)

// MaxLine bounds one line; a longer line is reported with [ErrLineTooLong]
// and skipped. The JSONL exporter's records are far smaller (256 KiB by
// default).
const MaxLine = 16 << 20

// ErrLineTooLong is the error of a line longer than [MaxLine].
var ErrLineTooLong = errors.New("line longer than 16 MiB")

// Line is one line of a file.
type Line struct {
	File string // the path as given ("-" for standard input)
	// Segment counts the files read under that path: 0 for the first,
	// one more after each rotation or truncation.
	Segment int
	// Handle is the open file the line was read from (nil for standard
	// input); with [Options.KeepOpen] it stays open after a rotation, so
	// the line can be read again at Offset.
	Handle *os.File
	Num    int    // line number in the segment, from 1
	Offset int64  // the line's first byte in the segment
	Size   int    // bytes of the line with its newline
	Data   []byte // without the newline; valid only during the callback
	// Err is not nil for a line that could not be read whole
	// ([ErrLineTooLong]); Data is then empty.
	Err error
}

// Options configure [Read].
type Options struct {
	// Follow keeps reading the files as they grow and across rotation:
	// when the path names another file (the exporter renamed the old one
	// to path.1 and created a new one), the rest of the old file is read,
	// then the new one from its start; a file that shrank is read again
	// from its start.
	Follow bool
	// Wait is called each time every file has been read to its end while
	// following; it returns when the files should be looked at again, or
	// an error (the context's) to stop. Nil: wait PollInterval.
	Wait func(ctx context.Context) error
	// PollInterval is the default Wait's interval; 0 means 500ms.
	PollInterval time.Duration
	// KeepOpen leaves the files of earlier segments open for the caller
	// (see [Line].Handle); the caller closes them. Otherwise Read closes
	// each file when it is done with it.
	KeepOpen bool
}

// Read reads the lines of paths in order and gives each to fn; "-" is
// stdin. An fn error stops Read and is returned. Without Follow Read
// returns at the end of the last file; with Follow it returns when Wait
// (or ctx) says so.
func Read(ctx context.Context, paths []string, stdin io.Reader, opt Options, fn func(*Line) error) error {
	if opt.Wait == nil {
		interval := opt.PollInterval
		if interval <= 0 {
			interval = 500 * time.Millisecond
		}
		opt.Wait = func(ctx context.Context) error {
			t := time.NewTimer(interval)
			defer t.Stop()
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-t.C:
				return nil
			}
		}
	}
	files := make([]*source, 0, len(paths))
	defer func() {
		for _, s := range files {
			s.close(opt.KeepOpen)
		}
	}()
	for _, p := range paths {
		s := &source{path: p}
		if p == "-" {
			s.r = bufio.NewReaderSize(stdin, 64<<10)
		} else if err := s.open(); err != nil {
			return err
		}
		files = append(files, s)
	}
	for _, s := range files {
		if err := s.drain(fn, !opt.Follow || s.f == nil); err != nil {
			return err
		}
	}
	if !opt.Follow {
		return nil
	}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := opt.Wait(ctx); err != nil {
			return err
		}
		for _, s := range files {
			if s.f == nil {
				continue // stdin was read to its end
			}
			if err := s.poll(fn, opt.KeepOpen); err != nil {
				return err
			}
		}
	}
}

// source is one path being read.
type source struct {
	path    string
	f       *os.File
	info    os.FileInfo
	r       *bufio.Reader
	seg     int
	num     int
	off     int64  // offset of the next line
	partial []byte // the start of a line not yet ended
	long    bool   // skipping the rest of a too-long line
	line    Line
}

func (s *source) open() error {
	f, err := os.Open(s.path)
	if err != nil {
		return err
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return err
	}
	s.f, s.info = f, info
	if s.r == nil {
		s.r = bufio.NewReaderSize(f, 64<<10)
	} else {
		s.r.Reset(f)
	}
	s.num, s.off, s.partial, s.long = 0, 0, s.partial[:0], false
	return nil
}

func (s *source) close(keep bool) {
	if s.f != nil && !keep {
		s.f.Close()
	}
}

// poll reads what was appended, and moves to the new file of a rotation.
func (s *source) poll(fn func(*Line) error, keep bool) error {
	if err := s.drain(fn, false); err != nil {
		return err
	}
	info, err := os.Stat(s.path)
	switch {
	case err != nil:
		return nil // between the rename and the new file: look again later
	case !os.SameFile(info, s.info):
		// Rotated: the old file is complete, then the new one.
		if err := s.drain(fn, true); err != nil {
			return err
		}
		old := s.f
		if err := s.open(); err != nil {
			s.f = old
			return nil
		}
		if !keep {
			old.Close()
		}
		s.seg++
		return s.drain(fn, false)
	case info.Size() < s.off+int64(len(s.partial)):
		// Truncated in place: read it again from its start.
		if _, err := s.f.Seek(0, io.SeekStart); err != nil {
			return err
		}
		s.r.Reset(s.f)
		s.num, s.off, s.partial, s.long = 0, 0, s.partial[:0], false
		s.seg++
		return s.drain(fn, false)
	}
	return nil
}

// drain reads the lines available now; final: a line without its newline
// at the end is a line too (the file will not grow).
func (s *source) drain(fn func(*Line) error, final bool) error {
	for {
		chunk, err := s.r.ReadSlice('\n')
		switch {
		case err == nil:
			if err := s.emit(chunk, fn); err != nil {
				return err
			}
		case errors.Is(err, bufio.ErrBufferFull):
			s.add(chunk)
		case errors.Is(err, io.EOF):
			s.add(chunk)
			if final && (len(s.partial) > 0 || s.long) {
				return s.emit(nil, fn)
			}
			return nil
		default:
			return err
		}
	}
}

func (s *source) add(chunk []byte) {
	if s.long {
		s.off += int64(len(chunk))
		return
	}
	if len(s.partial)+len(chunk) > MaxLine {
		s.long = true
		s.off += int64(len(s.partial) + len(chunk))
		s.partial = s.partial[:0]
		return
	}
	s.partial = append(s.partial, chunk...)
}

// emit ends the line whose last chunk is chunk.
func (s *source) emit(chunk []byte, fn func(*Line) error) error {
	data := chunk
	if len(s.partial) > 0 || s.long {
		s.add(chunk)
		data = s.partial
	}
	s.num++
	l := &s.line
	*l = Line{File: s.path, Segment: s.seg, Handle: s.f, Num: s.num, Offset: s.off}
	if s.long {
		l.Err = ErrLineTooLong
		s.long = false
		l.Size = 0 // counted already in s.off
	} else {
		l.Size = len(data)
		l.Data = bytes.TrimRight(data, "\r\n")
		s.off += int64(len(data))
	}
	s.partial = s.partial[:0]
	return fn(l)
}
