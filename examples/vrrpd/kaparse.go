package main

// The keepalived.conf reader: lines, comments, quoted strings, include,
// $VAR definitions and @ conditionals, blocks. keepalived.go converts the
// statements to vrrpd's Config.

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// ErrKeepalived matches every error reading or converting a keepalived
// configuration; it also matches ErrUsage.
var ErrKeepalived = errors.New("keepalived configuration")

// A KeepalivedError is one problem in a keepalived configuration, at File
// and Line, about Keyword.
type KeepalivedError struct {
	File    string
	Line    int
	Keyword string
	Msg     string
}

func (e *KeepalivedError) Error() string {
	where := e.File
	if e.Line > 0 {
		where += ":" + strconv.Itoa(e.Line)
	}
	if e.Keyword == "" {
		return where + ": " + e.Msg
	}
	return where + ": " + e.Keyword + ": " + e.Msg
}

// Is makes errors.Is(err, ErrKeepalived) and errors.Is(err, ErrUsage) true.
func (e *KeepalivedError) Is(target error) bool { return target == ErrKeepalived || target == ErrUsage }

// kaPos is a place in a keepalived file.
type kaPos struct {
	file string
	line int
}

func (p kaPos) String() string { return fmt.Sprintf("%s:%d", p.file, p.line) }

func (p kaPos) errf(keyword, format string, a ...any) error {
	return &KeepalivedError{File: p.file, Line: p.line, Keyword: keyword, Msg: fmt.Sprintf(format, a...)}
}

// kaTok is one word of a keepalived file.
type kaTok struct {
	s      string
	quoted bool // written in double quotes: never a brace
	eol    bool // the last word of its line
	pos    kaPos
}

func (t kaTok) is(s string) bool { return !t.quoted && t.s == s }

// kaNode is one statement: a keyword, its arguments and, when it opens
// one, its block.
type kaNode struct {
	key      string
	args     []kaTok
	block    []*kaNode
	hasBlock bool
	pos      kaPos
}

// argStrings returns the arguments as strings.
func (n *kaNode) argStrings() []string {
	s := make([]string, len(n.args))
	for i, a := range n.args {
		s[i] = a.s
	}
	return s
}

// kaLexer reads the files of one configuration.
type kaLexer struct {
	configID string            // keepalived's -i: @ID lines apply when ID matches
	vars     map[string]string // $NAME=value definitions, in reading order
	depth    int               // include nesting
	files    []string          // every file read, in order
	warnings []string
}

const kaMaxInclude = 16

var (
	kaVarDef = regexp.MustCompile(`^\$([A-Za-z_][A-Za-z0-9_]*)=(.*)$`)
)

// lexFile returns the words of path, with the files it includes spliced
// in where the include statement is.
func (lx *kaLexer) lexFile(path string, from kaPos) ([]kaTok, error) {
	if fi, err := os.Stat(path); err == nil && !fi.Mode().IsRegular() {
		return nil, from.errf("include", "%s: not a regular file", path)
	}
	b, err := readConfigFile(path)
	if err != nil {
		return nil, from.errf("include", "%v", err)
	}
	lx.files = append(lx.files, path)
	return lx.lex(path, string(b))
}

// kaMaxFile bounds one configuration file: a keepalived.conf is a few
// kilobytes, /dev/zero is endless.
const kaMaxFile = 16 << 20

// readConfigFile reads at most kaMaxFile bytes of path.
func readConfigFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, kaMaxFile+1))
	if err != nil {
		return nil, err
	}
	if len(b) > kaMaxFile {
		return nil, fmt.Errorf("%s: longer than %d MiB", path, kaMaxFile>>20)
	}
	return b, nil
}

// lex returns the words of text, read from file name.
func (lx *kaLexer) lex(name, text string) ([]kaTok, error) {
	var toks []kaTok
	lines := strings.Split(text, "\n")
	for i := 0; i < len(lines); i++ {
		pos := kaPos{name, i + 1}
		line := strings.TrimRight(lines[i], "\r")
		if !utf8.ValidString(line) {
			// It could not be written back as TOML unchanged (-print-toml),
			// and keepalived's own files are text.
			return nil, pos.errf("", "not valid UTF-8 text")
		}
		trimmed := strings.TrimLeft(line, " \t")
		// @ID / @^ID: keepalived's conditional lines (its -i config id).
		if strings.HasPrefix(trimmed, "@") {
			id, rest := trimmed[1:], ""
			if j := strings.IndexAny(id, " \t"); j >= 0 {
				id, rest = id[:j], id[j+1:]
			}
			neg := strings.HasPrefix(id, "^")
			id = strings.TrimPrefix(id, "^")
			if id == "" {
				return nil, pos.errf("@", "a conditional line needs an id: @ID or @^ID")
			}
			if (id == lx.configID) == neg {
				continue
			}
			trimmed = strings.TrimLeft(rest, " \t")
		}
		// $NAME=value, continued by a trailing backslash.
		if m := kaVarDef.FindStringSubmatch(trimmed); m != nil {
			val := m[2]
			for strings.HasSuffix(val, "\\") && i+1 < len(lines) {
				i++
				val = strings.TrimSuffix(val, "\\") + "\n" + strings.TrimRight(lines[i], "\r")
			}
			if strings.Contains(val, "\n") {
				return nil, pos.errf("$"+m[1], "multi-line definitions are not supported: write it on one line")
			}
			v, ok := lx.expand(strings.TrimSpace(val))
			if !ok {
				return nil, pos.errf("$"+m[1], "longer than %d bytes once expanded (definitions that double each other?)", kaMaxExpanded)
			}
			lx.vars[m[1]] = v
			continue
		}
		if strings.HasPrefix(trimmed, "~") {
			w, _, _ := strings.Cut(trimmed, "(")
			return nil, pos.errf(w, "keepalived's ~SEQ and other ~ constructs are not supported: write the lines out")
		}
		if strings.Contains(trimmed, "$") {
			var ok bool
			if trimmed, ok = lx.expand(trimmed); !ok {
				return nil, pos.errf("$", "a line longer than %d bytes once expanded (definitions that double each other?)", kaMaxExpanded)
			}
			if strings.Contains(trimmed, "\n") {
				return nil, pos.errf("$", "a multi-line definition used on a line: not supported")
			}
		}
		words, err := kaWords(trimmed, pos)
		if err != nil {
			return nil, err
		}
		if len(words) == 0 {
			continue
		}
		if words[0].is("include") {
			if len(words) != 2 {
				return nil, pos.errf("include", "want one file name or glob pattern")
			}
			inc, err := lx.include(words[1].s, pos)
			if err != nil {
				return nil, err
			}
			toks = append(toks, inc...)
			continue
		}
		words[len(words)-1].eol = true
		toks = append(toks, words...)
	}
	return toks, nil
}

// kaMaxExpanded bounds a line or a definition once its $NAMEs are
// expanded: definitions that each use the previous one twice double at
// every line, and 30 such lines asked for gigabytes (found by
// FuzzKeepalived, which ran out of memory).
const kaMaxExpanded = 64 << 10

// expand replaces ${NAME} and $NAME by the definitions seen so far, as
// keepalived does (parser.c, replace_param): $NAME only when a blank or
// the end of the line follows the name; an undefined name is left as it
// is. ok is false when the result would be longer than kaMaxExpanded.
func (lx *kaLexer) expand(s string) (_ string, ok bool) {
	var b strings.Builder
	for {
		i := strings.IndexByte(s, '$')
		if i < 0 || i+1 >= len(s) {
			b.WriteString(s)
			return b.String(), b.Len() <= kaMaxExpanded
		}
		b.WriteString(s[:i])
		rest := s[i+1:]
		braces := rest[0] == '{'
		if braces {
			rest = rest[1:]
		}
		n := 0
		for n < len(rest) && (rest[n] == '_' || rest[n] >= 'a' && rest[n] <= 'z' || rest[n] >= 'A' && rest[n] <= 'Z' ||
			n > 0 && rest[n] >= '0' && rest[n] <= '9') {
			n++
		}
		end := n // the end of $NAME / ${NAME} in rest
		ok := n > 0
		if braces {
			ok = ok && n < len(rest) && rest[n] == '}'
			end = n + 1
		} else {
			ok = ok && (n == len(rest) || rest[n] == ' ' || rest[n] == '\t')
		}
		v, def := lx.vars[rest[:n]]
		if !ok || !def {
			b.WriteByte('$')
			s = s[i+1:]
			continue
		}
		if b.Len()+len(v) > kaMaxExpanded {
			return "", false
		}
		b.WriteString(v)
		s = rest[end:]
	}
}

// include reads the files matching pattern, relative to the directory of
// the including file, in sorted order.
func (lx *kaLexer) include(pattern string, pos kaPos) ([]kaTok, error) {
	if lx.depth >= kaMaxInclude {
		return nil, pos.errf("include", "nested more than %d deep (an include loop?)", kaMaxInclude)
	}
	if !filepath.IsAbs(pattern) {
		pattern = filepath.Join(filepath.Dir(pos.file), pattern)
	}
	files, err := filepath.Glob(pattern)
	if err != nil {
		return nil, pos.errf("include", "bad pattern %q: %v", pattern, err)
	}
	if len(files) == 0 {
		if !strings.ContainsAny(pattern, "*?[") {
			return nil, pos.errf("include", "%s: no such file", pattern)
		}
		// keepalived: a pattern matching nothing includes nothing.
		lx.warnings = append(lx.warnings, fmt.Sprintf("%s: include %s ignored: no file matches", pos, pattern))
		return nil, nil
	}
	sort.Strings(files)
	lx.depth++
	defer func() { lx.depth-- }()
	var toks []kaTok
	for _, f := range files {
		t, err := lx.lexFile(f, pos)
		if err != nil {
			return nil, err
		}
		toks = append(toks, t...)
	}
	return toks, nil
}

// kaWords splits one line into words: blanks separate them, "..." quotes
// (with \" and \\ inside), # or ! at the start of a word begins a comment,
// and an unquoted { or } is a word of its own.
func kaWords(line string, pos kaPos) ([]kaTok, error) {
	var words []kaTok
	i := 0
	for i < len(line) {
		c := line[i]
		switch {
		case c == ' ' || c == '\t':
			i++
		case c == '#' || c == '!':
			return words, nil
		case c == '{' || c == '}':
			words = append(words, kaTok{s: string(c), pos: pos})
			i++
		case c == '"':
			var b strings.Builder
			i++
			closed := false
			for i < len(line) {
				if line[i] == '\\' && i+1 < len(line) && (line[i+1] == '"' || line[i+1] == '\\') {
					b.WriteByte(line[i+1])
					i += 2
					continue
				}
				if line[i] == '"' {
					closed = true
					i++
					break
				}
				b.WriteByte(line[i])
				i++
			}
			if !closed {
				return nil, pos.errf("", "unterminated quoted string")
			}
			words = append(words, kaTok{s: b.String(), quoted: true, pos: pos})
		default:
			j := i
			for j < len(line) && !strings.ContainsRune(" \t{}\"", rune(line[j])) {
				j++
			}
			words = append(words, kaTok{s: line[i:j], pos: pos})
			i = j
		}
	}
	return words, nil
}

// kaParse turns words into statements.
func kaParse(toks []kaTok) ([]*kaNode, error) {
	p := 0
	nodes, err := kaParseBlock(toks, &p, nil)
	return nodes, err
}

func kaParseBlock(toks []kaTok, p *int, open *kaNode) ([]*kaNode, error) {
	var nodes []*kaNode
	for *p < len(toks) {
		t := toks[*p]
		if t.is("}") {
			*p++
			if open == nil {
				return nil, t.pos.errf("}", "no block to close")
			}
			return nodes, nil
		}
		if t.is("{") {
			return nil, t.pos.errf("{", "a block needs a keyword before it")
		}
		n := &kaNode{key: t.s, pos: t.pos}
		*p++
		if !t.eol {
			for *p < len(toks) {
				a := toks[*p]
				if a.is("{") || a.is("}") {
					break
				}
				n.args = append(n.args, a)
				*p++
				if a.eol {
					break
				}
			}
		}
		if *p < len(toks) && toks[*p].is("{") {
			*p++
			n.hasBlock = true
			b, err := kaParseBlock(toks, p, n)
			if err != nil {
				return nil, err
			}
			n.block = b
		}
		nodes = append(nodes, n)
	}
	if open != nil {
		return nil, open.pos.errf(open.key, "block not closed: a } is missing")
	}
	return nodes, nil
}

// kaSplitCommand splits a keepalived script or notify string into words
// as keepalived does before it runs the program itself (no shell): blanks
// separate words, '...' and "..." quote, a backslash escapes the next
// character.
func kaSplitCommand(s string) ([]string, error) {
	var words []string
	var b strings.Builder
	in := false
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			} else if c == '\\' && quote == '"' && i+1 < len(s) {
				i++
				b.WriteByte(s[i])
			} else {
				b.WriteByte(c)
			}
		case c == '\'' || c == '"':
			quote, in = c, true
		case c == '\\' && i+1 < len(s):
			i++
			b.WriteByte(s[i])
			in = true
		case c == ' ' || c == '\t':
			if in {
				words = append(words, b.String())
				b.Reset()
				in = false
			}
		default:
			b.WriteByte(c)
			in = true
		}
	}
	if quote != 0 {
		return nil, errors.New("unterminated quote")
	}
	if in {
		words = append(words, b.String())
	}
	return words, nil
}

var shellSafe = regexp.MustCompile(`^[A-Za-z0-9_@%+=:,./-]+$`)

// shellQuote quotes words for /bin/sh, so that the shell runs exactly the
// program and arguments keepalived would run.
func shellQuote(words []string) string {
	q := make([]string, len(words))
	for i, w := range words {
		if shellSafe.MatchString(w) {
			q[i] = w
		} else {
			q[i] = "'" + strings.ReplaceAll(w, "'", `'\''`) + "'"
		}
	}
	return strings.Join(q, " ")
}
