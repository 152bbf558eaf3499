package api

import (
	"fmt"
	"os"
	"os/user"
	"strconv"
	"syscall"
)

// PermissionError reports that the admin socket exists but this user may
// not connect to it. It matches ErrUnreachable and fs.ErrPermission.
type PermissionError struct {
	// Socket is the socket path.
	Socket string
	// Group is the socket's group when members of it may connect (mode
	// 0660, admin.socket_group), else "".
	Group string
	// Owner is the user that owns the socket ("" when unknown).
	Owner string
	// Err is the dial error (EACCES).
	Err error
}

// Error says what to do: join the group, or run as the owner or root.
func (e *PermissionError) Error() string {
	if e.Group != "" {
		return fmt.Sprintf("permission denied on %s: add your user to group %s or run as root", e.Socket, e.Group)
	}
	owner := "the user that runs 'cutover serve'"
	if e.Owner != "" {
		owner = e.Owner
	}
	return fmt.Sprintf("permission denied on %s: only %s may use it; run as %s or root, or let a group in with admin.socket_group",
		e.Socket, owner, owner)
}

// Unwrap returns ErrUnreachable and the dial error.
func (e *PermissionError) Unwrap() []error { return []error{ErrUnreachable, e.Err} }

// permissionError describes the socket at path that refused a connection.
func permissionError(path string, err error) *PermissionError {
	pe := &PermissionError{Socket: path, Err: err}
	fi, serr := os.Stat(path)
	if serr != nil {
		return pe
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return pe
	}
	if u, err := user.LookupId(strconv.Itoa(int(st.Uid))); err == nil {
		pe.Owner = u.Username
	}
	if fi.Mode().Perm()&0o060 == 0o060 {
		pe.Group = strconv.Itoa(int(st.Gid))
		if g, err := user.LookupGroupId(pe.Group); err == nil {
			pe.Group = g.Name
		}
	}
	return pe
}
