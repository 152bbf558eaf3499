package store

import "fmt"

// ValidName reports whether name can be stored: 1 to 128 bytes of ASCII
// letters, digits, '.', '-' and '_', not starting with '.' or '-'. Every
// name cutover.yaml accepts is valid.
func ValidName(name string) bool {
	if name == "" || len(name) > 128 || name[0] == '.' || name[0] == '-' {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// checkName returns an error wrapping ErrInvalidName when name is not valid.
func checkName(name string) error {
	if !ValidName(name) {
		return fmt.Errorf("%w: %q", ErrInvalidName, name)
	}
	return nil
}
