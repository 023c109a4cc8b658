package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"strings"

	"github.com/metricsd/metricsd/internal/action"
	"github.com/metricsd/metricsd/internal/audit"
	"github.com/metricsd/metricsd/internal/resource"
)

// maxSpecDepth is how many segments of a target's specifier the audit log
// keeps in columns of their own (k1..k3) for spec filters.
const maxSpecDepth = 3

const auditSummaryCols = `a.id, a.date, a.kind, a.resource, a.shape, a.k1, a.k2, a.k3, a.name, a.tags, a.others, a.actions,
	a.parent_resource, a.parent_name, a.member_id, a.member_email, a.member_first_name, a.member_last_name, a.member_role,
	a.token_id, a.token_name, a.token_ending, a.service_token, a.comment, a.title_verb, a.description, a.short_description`

// insertAuditEntry records e; it runs inside the transaction of its change.
func insertAuditEntry(ctx context.Context, t *txn, e *audit.Entry) error {
	segs := e.Target.Spec.Segments
	kinds := make([]string, len(segs))
	var names [maxSpecDepth]string
	for i, s := range segs {
		kinds[i] = string(s.Kind)
		if i < maxSpecDepth {
			names[i] = s.Name
		}
	}
	var tags []string
	if len(segs) > 0 {
		tags = segs[len(segs)-1].Tags
	}
	actions, err := json.Marshal(e.Actions)
	if err != nil {
		return err
	}
	resources := e.Target.Others
	parent := audit.Parent{}
	if e.Parent != nil {
		parent = *e.Parent
	}
	p := e.Principal
	search := strings.ToLower(e.Target.Name + "\x1f" + strings.Join(names[:], "\x1f") + "\x1f" + strings.Join(resources, "\x1f"))
	_, err = t.exec(ctx, `INSERT INTO audit_log (id, date, kind, resource, shape, k1, k2, k3, name, search, tags, others, actions,
		parent_resource, parent_name, member_id, member_email, member_first_name, member_last_name, member_role,
		token_id, token_name, token_ending, service_token, comment, title_verb, description, short_description,
		delta, previous_version, current_version)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		e.ID, ms(e.Date), e.Target.Kind, e.Target.Resource(), strings.Join(kinds, ":"), names[0], names[1], names[2],
		e.Target.Name, search, tagList(tags), tagList(resources), string(actions),
		parent.Resource, parent.Name, p.MemberID, p.Email, p.FirstName, p.LastName, p.Role,
		p.TokenID, p.TokenName, p.TokenEnding, p.ServiceToken, e.Comment, e.TitleVerb, e.Description, e.ShortDescription,
		nullRaw(e.Delta), nullRaw(e.Before), nullRaw(e.After))
	return err
}

// tagList renders tags as ",a,b," so that one tag is a LIKE '%,a,%'.
func tagList(tags []string) string {
	if len(tags) == 0 {
		return ","
	}
	return "," + strings.Join(tags, ",") + ","
}

func nullRaw(b json.RawMessage) any {
	if b == nil {
		return nil
	}
	return string(b)
}

func scanAuditSummary(s scanner, extra ...any) (*audit.Entry, error) {
	var e audit.Entry
	var date int64
	var resourceStr, shape, tags, others, actions string
	var k [maxSpecDepth]string
	p := &e.Principal
	var parent audit.Parent
	dest := []any{&e.ID, &date, &e.Target.Kind, &resourceStr, &shape, &k[0], &k[1], &k[2], &e.Target.Name, &tags, &others, &actions,
		&parent.Resource, &parent.Name, &p.MemberID, &p.Email, &p.FirstName, &p.LastName, &p.Role,
		&p.TokenID, &p.TokenName, &p.TokenEnding, &p.ServiceToken, &e.Comment, &e.TitleVerb, &e.Description, &e.ShortDescription}
	if err := s.Scan(append(dest, extra...)...); err != nil {
		return nil, classify(err)
	}
	e.Date = fromMS(date)
	if parent.Resource != "" {
		e.Parent = &parent
	}
	if err := json.Unmarshal([]byte(actions), &e.Actions); err != nil {
		e.Actions = []action.Action{}
	}
	kinds := strings.Split(shape, ":")
	for i, kind := range kinds {
		seg := resource.Segment{Kind: resource.Kind(kind)}
		if i < maxSpecDepth {
			seg.Name = k[i]
		}
		e.Target.Spec.Segments = append(e.Target.Spec.Segments, seg)
	}
	if t := strings.Trim(tags, ","); t != "" && len(kinds) > 0 {
		e.Target.Spec.Segments[len(kinds)-1].Tags = strings.Split(t, ",")
	}
	if o := strings.Trim(others, ","); o != "" {
		e.Target.Others = strings.Split(o, ",")
	}
	return &e, nil
}

// auditScanLimit bounds the rows one audit page examines, when rows are
// matched in Go after the SQL, before it answers with what it found and a
// cursor after the last row examined.
const auditScanLimit = 10000

// AuditEntries returns up to q.Limit entries, newest first, and the ID to
// continue before when more may follow. A spec filter compiles to
// conditions on the decomposed specifier columns, so the page walks an
// index whatever the size of the log; what SQL can only narrow (tag globs,
// members created together) is matched per row, reading on until the page
// is full.
func (db *DB) AuditEntries(ctx context.Context, q audit.Query) ([]audit.Entry, string, error) {
	conds := []string{"1 = 1"}
	var args []any
	// IDs begin with the entry's millisecond, so date bounds are ID bounds
	// and every page walks an index that ends in id. A cursor (BeforeID)
	// continues inside its millisecond.
	switch {
	case q.BeforeID != "":
		conds = append(conds, "a.id < ?")
		args = append(args, q.BeforeID)
	case q.Before != 0:
		conds = append(conds, "a.id < ?")
		args = append(args, audit.IDFloor(q.Before))
	}
	if q.After != 0 {
		conds = append(conds, "a.id >= ?")
		args = append(args, audit.IDFloor(q.After+1))
	}
	if q.Q != "" {
		conds = append(conds, `a.search LIKE ? ESCAPE '!'`)
		args = append(args, likePattern(q.Q))
	}
	var post *resource.Spec
	if q.Spec != nil {
		c, a, exact := specConditions(*q.Spec)
		if hasOthers(*q.Spec) && len(c) > 1 {
			exact = false
			// Entries of members created together name the others in a
			// column of their own; they are matched against each below.
			// c[0] is the shape, the rest name the first target.
			c = []string{c[0], "((" + strings.Join(c[1:], " AND ") + ") OR a.others <> ',')"}
		}
		conds, args = append(conds, c...), append(args, a...)
		if !exact {
			post = q.Spec
		}
	}
	// IDs begin with the millisecond, so ID order is date order. The cursor
	// condition comes last so that each batch can move it.
	query := `SELECT ` + auditSummaryCols + ` FROM audit_log a WHERE ` + strings.Join(conds, " AND ") + ` AND a.id < ? ORDER BY a.id DESC LIMIT ?`
	batch := q.Limit
	if post != nil {
		// Some rows may not match: read a little more than a page at a time.
		batch = 2 * q.Limit
	}
	var out []audit.Entry
	next := ""
	err := db.tx(ctx, false, func(t *txn) error {
		cursor := "g" // above every hex ID
		for scanned := 0; ; {
			rows, err := t.query(ctx, query, append(args, cursor, batch)...)
			if err != nil {
				return err
			}
			n := 0
			for rows.Next() {
				e, err := scanAuditSummary(rows)
				if err != nil {
					rows.Close()
					return err
				}
				n++
				cursor = e.ID
				if post != nil && !targetMatches(*post, &e.Target) {
					continue
				}
				if len(out) == q.Limit {
					// One match more than the page: there is a next page.
					next = out[len(out)-1].ID
					break
				}
				out = append(out, *e)
			}
			if err := rows.Close(); err != nil {
				return err
			}
			if err := rows.Err(); err != nil {
				return err
			}
			scanned += n
			switch {
			case next != "", n < batch:
				return nil
			case len(out) == q.Limit && post == nil:
				// A full page read without matching in Go: whether more
				// follow is one more row away; say yes and let the next
				// page find out.
				next = out[len(out)-1].ID
				return nil
			case scanned >= auditScanLimit:
				// Matches are sparse: answer what was found and continue
				// after the last row examined.
				next = cursor
				return nil
			}
		}
	})
	return out, next, err
}

// specConditions compiles a spec into conditions on the audit_log columns,
// the shape first. exact is false when they only narrow the rows to a
// superset of the matches (a glob in a tag selector, tags on an outer
// segment, segments past the stored depth), which the caller then matches
// row by row.
func specConditions(s resource.Spec) (conds []string, args []any, exact bool) {
	exact = true
	kinds := make([]string, len(s.Segments))
	for i, seg := range s.Segments {
		kinds[i] = string(seg.Kind)
		if i < len(s.Segments)-1 && len(seg.Tags) > 0 {
			exact = false // only the target's own tags are stored
		}
	}
	conds = append(conds, "a.shape = ?")
	args = append(args, strings.Join(kinds, ":"))
	cols := [maxSpecDepth]string{"a.k1", "a.k2", "a.k3"}
	for i, seg := range s.Segments {
		if i >= maxSpecDepth {
			exact = false
			break
		}
		if seg.Name == "*" || seg.Name == "" {
			continue
		}
		pat, isExact := resource.LikePattern(seg.Name)
		if isExact {
			conds = append(conds, cols[i]+" = ?")
		} else {
			// LIKE ignores ASCII case on SQLite; globs do not.
			exact = false
			conds = append(conds, cols[i]+` LIKE ? ESCAPE '\'`)
		}
		args = append(args, pat)
	}
	if len(s.Segments) > 0 {
		for _, tag := range s.Segments[len(s.Segments)-1].Tags {
			pat, isExact := resource.LikePattern(tag)
			if isExact {
				pat = strings.NewReplacer(`\`, `\\`, "%", `\%`, "_", `\_`).Replace(pat)
			}
			// LIKE ignores ASCII case on SQLite, and a glob's % can span
			// tags: the rows are matched again one by one.
			exact = false
			conds = append(conds, `a.tags LIKE ? ESCAPE '\'`)
			args = append(args, "%,"+pat+",%")
		}
	}
	return conds, args, exact
}

// AuditEntry returns one entry with its documents and delta.
func (db *DB) AuditEntry(ctx context.Context, id string) (*audit.Entry, error) {
	var delta, prev, cur sql.NullString
	e, err := scanAuditSummary(db.readRow(ctx, `SELECT `+auditSummaryCols+`, a.delta, a.previous_version, a.current_version FROM audit_log a WHERE a.id = ?`, id),
		&delta, &prev, &cur)
	if err != nil {
		return nil, err
	}
	for _, f := range []struct {
		src sql.NullString
		dst *json.RawMessage
	}{{delta, &e.Delta}, {prev, &e.Before}, {cur, &e.After}} {
		if f.src.Valid {
			*f.dst = json.RawMessage(f.src.String)
		}
	}
	return e, nil
}

// targetMatches reports whether spec names the target or one of its other
// resources.
func targetMatches(spec resource.Spec, t *audit.Target) bool {
	if spec.Matches(t.Spec) {
		return true
	}
	for _, o := range t.Others {
		if r, err := resource.Parse(o); err == nil && spec.Matches(r) {
			return true
		}
	}
	return false
}

// hasOthers reports whether entries whose target matches spec's shape can
// have further targets: only members are created several at once.
func hasOthers(spec resource.Spec) bool {
	return len(spec.Segments) == 1 && spec.Segments[0].Kind == resource.KindMember
}
