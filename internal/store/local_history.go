package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
)

func (l *Local) historyPath(service string) string {
	return filepath.Join(l.history, service+".jsonl")
}

// AppendHistory implements Store: it appends rec as one JSON line and syncs
// the file before returning. A torn line left by a crash is ended first, so
// the new record stays readable.
func (l *Local) AppendHistory(ctx context.Context, rec HistoryRecord) error {
	if err := checkName(rec.Service); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	line, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("encode history of %s: %w", rec.Service, err)
	}
	line = append(line, '\n')
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.writable(); err != nil {
		return err
	}
	if err := appendLine(l.history, rec.Service+".jsonl", line); err != nil {
		return fmt.Errorf("append history of %s: %w", rec.Service, err)
	}
	return nil
}

// appendLine appends line to dir/name durably, first ending a torn last line.
func appendLine(dir, name string, line []byte) (err error) {
	path := filepath.Join(dir, name)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_APPEND|os.O_CREATE, filePerm)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	created := fi.Size() == 0
	if !created {
		last := make([]byte, 1)
		if _, err := f.ReadAt(last, fi.Size()-1); err != nil {
			return err
		}
		if last[0] != '\n' {
			line = append([]byte{'\n'}, line...)
		}
	}
	if _, err := f.Write(line); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if created {
		return syncDir(dir)
	}
	return nil
}

// History implements Store. Lines that cannot be decoded (such as a line
// torn by a crash) are skipped.
func (l *Local) History(ctx context.Context, service string, limit int) ([]HistoryRecord, error) {
	if err := checkName(service); err != nil {
		return nil, err
	}
	if err := l.begin(ctx); err != nil {
		return nil, err
	}
	f, err := os.Open(l.historyPath(service))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read history of %s: %w", service, err)
	}
	defer f.Close()
	data, err := io.ReadAll(f)
	if err != nil {
		return nil, fmt.Errorf("read history of %s: %w", service, err)
	}
	var out []HistoryRecord
	for len(data) > 0 && (limit <= 0 || len(out) < limit) {
		i := bytes.LastIndexByte(bytes.TrimRight(data, "\n"), '\n')
		line := data[i+1:]
		data = data[:max(i, 0)]
		var rec HistoryRecord
		if len(bytes.TrimSpace(line)) == 0 || json.Unmarshal(line, &rec) != nil {
			continue
		}
		out = append(out, rec)
	}
	return slices.Clip(out), nil
}
