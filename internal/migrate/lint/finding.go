package lint

// Finding is one problem the lint found in one statement.
type Finding struct {
	File string `json:"file"`
	Line int    `json:"line"`
	Rule string `json:"rule"`
	// Severity may differ from the rule's usual one (see Rule.Severities,
	// and a catalog's facts).
	Severity Severity `json:"severity"`
	// Message says what this statement does, with its names.
	Message string `json:"message"`
	// Why it breaks the serving version, a rollback, or the site.
	Why string `json:"why"`
	// Recipe is the safe way to make the change.
	Recipe string `json:"recipe"`
	// Statement is the statement's first line, shortened.
	Statement string `json:"statement,omitempty"`
	// Allowed is set when an override allows the finding: it is then
	// reported but fails nothing.
	Allowed *Override `json:"allowed,omitempty"`
}

// Fails reports whether f fails the lint: an error nothing allows.
func (f Finding) Fails() bool { return f.Severity == SeverityError && f.Allowed == nil }

// Override is one permission to break a rule, with its reason: an inline
// "-- cutover:allow RULE reason=..." comment, or one the caller gave.
type Override struct {
	Rule   string `json:"rule"`
	Reason string `json:"reason"`
	// Source is "inline" (File and Line are the comment's) or "option".
	Source string `json:"source"`
	File   string `json:"file,omitempty"`
	Line   int    `json:"line,omitempty"`
}

// Override sources.
const (
	SourceInline = "inline"
	SourceOption = "option"
)

// Allow is an override the caller gives for every file (the command
// line's --allow): File, when set, limits it to the file with that path.
type Allow struct {
	Rule   string
	Reason string
	File   string
}

// FileResult is what the lint saw of one file.
type FileResult struct {
	Path string `json:"path"`
	// Phase is "expand" or "contract".
	Phase      string `json:"phase"`
	Statements int    `json:"statements"`
	// Skipped says why a file was not linted (a down migration); empty
	// when it was.
	Skipped string `json:"skipped,omitempty"`
}

// Result is the outcome of one lint: every finding in file and line
// order, allowed ones included, and the overrides that were used.
type Result struct {
	Files     []FileResult `json:"files"`
	Findings  []Finding    `json:"findings"`
	Overrides []Override   `json:"overrides"`
}

// Count returns the number of findings of severity s that no override allows.
func (r *Result) Count(s Severity) int {
	n := 0
	for _, f := range r.Findings {
		if f.Severity == s && f.Allowed == nil {
			n++
		}
	}
	return n
}

// Allowed returns the number of findings an override allows.
func (r *Result) Allowed() int {
	n := 0
	for _, f := range r.Findings {
		if f.Allowed != nil {
			n++
		}
	}
	return n
}

// Failed reports whether any finding fails the lint.
func (r *Result) Failed() bool {
	for _, f := range r.Findings {
		if f.Fails() {
			return true
		}
	}
	return false
}

// Statements returns the number of statements linted.
func (r *Result) Statements() int {
	n := 0
	for _, f := range r.Files {
		n += f.Statements
	}
	return n
}
