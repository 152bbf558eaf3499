package docker

import (
	"bufio"
	"fmt"
	"os"
	"strings"
)

// readEnvFile reads KEY=VALUE lines as docker's --env-file does: blank lines
// and lines starting with "#" are skipped, values are taken literally
// (quotes included), and a bare KEY takes its value from cutover's own
// environment (or is skipped when unset there).
func readEnvFile(path string, into map[string]string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("%w: docker.env_files: %w", ErrInvalidSpec, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimLeft(sc.Text(), " \t")
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		key, value, hasValue := strings.Cut(line, "=")
		if key == "" || strings.ContainsAny(key, " \t") {
			return fmt.Errorf("%w: %s:%d: want KEY=VALUE, got %q", ErrInvalidSpec, path, n, line)
		}
		if !hasValue {
			v, ok := os.LookupEnv(key)
			if !ok {
				continue
			}
			value = v
		}
		into[key] = value
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%w: docker.env_files: %s: %w", ErrInvalidSpec, path, err)
	}
	return nil
}
