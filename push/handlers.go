package push

import (
	"context"
	"errors"
	"runtime/debug"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"
	"github.com/segmentio/encoding/json"

	"github.com/duetchat/duet"
	"github.com/duetchat/duet/challenge"
	"github.com/duetchat/duet/session"
)

// handle serves one frame from the client.
func (c *conn) handle(ctx context.Context, typ int, data []byte) {
	now := c.srv.now()
	c.lastFrame.Store(now.UnixNano())
	if c.silent.CompareAndSwap(true, false) {
		if err := c.srv.svc.Back(ctx, c.account.Load()); err != nil {
			c.srv.log.Warn("marking an account back", "account", c.account.Load(), "err", err)
		}
	}
	if typ != websocket.TextMessage {
		c.reject(ctx, now, "frames must be text frames holding one JSON object")
		return
	}
	var r request
	err := decodeRequest(data, &r)
	var fe fieldError
	switch cmd, _ := baseCommand(r.Cmd); {
	case err == nil:
	case !errors.As(err, &fe):
		c.reject(ctx, now, err.Error())
		return
	case cmd != cmdPing && cmd != cmdPong: // a heartbeat with an odd field is still a heartbeat
		c.fix(r.Cmd)
		c.answer(ctx, now, cmd, duet.Errorf(duet.ParamErr, "%s", fe.Error()), nil)
		c.greet(ctx)
		return
	}
	c.fix(r.Cmd)
	c.serve(ctx, now, &r)
	c.greet(ctx)
}

// greet shows a connection, right after the reply to its first request (when its dialect is
// known), the operator's notice current then, if any: a connection that opened after the
// notice was sent sees it too.
func (c *conn) greet(ctx context.Context) {
	if c.greeted || c.kicked.Load() != nil {
		return
	}
	c.greeted = true
	p, ok, err := c.srv.svc.CurrentNotice(ctx, c.account.Load())
	if err != nil {
		c.srv.log.Warn("looking up the current notice", "err", err)
		return
	}
	if ok {
		c.enqueue(frame{kind: kindPush, cmd: p.Cmd, body: p.Body})
	}
}

// fix fixes the connection's dialect by its first command.
func (c *conn) fix(cmd string) {
	if !c.dialected {
		c.dialect, c.dialected = dialectOf(cmd), true
	}
}

// reject answers a frame that is not a request with ERROR, and counts it.
func (c *conn) reject(ctx context.Context, now time.Time, msg string) {
	c.reply(frame{kind: kindError, body: mustJSON(errorReply{Code: duet.ParamErr, Msg: msg})})
	if c.badFrame(now) {
		c.strikeOut(ctx)
	}
}

// serve carries out one request. Should it panic, the client gets UnknownErr and the connection
// and the server go on.
func (c *conn) serve(ctx context.Context, now time.Time, r *request) {
	cmd, answer := baseCommand(r.Cmd)
	defer func() {
		if v := recover(); v != nil {
			c.srv.log.Error("request panicked", "cmd", cmd, "account", c.account.Load(), "panic", v, "stack", string(debug.Stack()))
			c.answer(ctx, now, cmd, duet.Errorf(duet.UnknownErr, "the server could not handle this request"), nil)
		}
	}()
	svc := c.srv.svc
	switch k := c.kicked.Load(); {
	case cmd == cmdPong, answer && isPush(cmd):
		return // an answer to a heartbeat or a push: its arrival was the sign of life
	case k != nil:
		c.answer(ctx, now, cmd, kickedError(k), nil)
		return
	case c.fenced.Load():
		c.answer(ctx, now, cmd, errTakenOver, nil)
		return
	case answer:
		c.answer(ctx, now, cmd, duet.Errorf(duet.ParamErr, "unknown command %q", r.Cmd), nil)
		return
	case cmd == cmdPing:
		c.reply(frame{kind: kindReply, cmd: cmdPing, body: pingBody(c.account.Load())})
		return
	case cmd == cmdCreateAccount:
		c.createAccount(ctx, now, r)
		return
	case cmd == cmdReconnect:
		c.reconnect(ctx, now, r)
		return
	case !known(cmd):
		c.answer(ctx, now, cmd, duet.Errorf(duet.ParamErr, "unknown command %q", r.Cmd), nil)
		return
	}

	id := c.account.Load()
	if id == 0 {
		c.answer(ctx, now, cmd, duet.Errorf(duet.Unauthorized, "create an account or reconnect first"), nil)
		return
	}
	if err := checkIDs(cmd, id, r); err != nil {
		c.answerRequest(ctx, now, cmd, r, err, nil)
		return
	}
	switch cmd {
	case cmdMatch:
		if err := c.allow(now, need{matchBucket, 1}); err != nil {
			c.answer(ctx, now, cmd, err, nil)
			return
		}
		m, err := svc.Match(ctx, id, r.Interests)
		c.answer(ctx, now, cmd, err, matchReply{PartnerID: m.Partner.ID, PartnerName: m.Partner.Nickname, SessionID: m.SessionID, CommonInterests: m.Common})
	case cmdCancelMatch:
		c.answer(ctx, now, cmd, svc.CancelMatch(ctx, id), okReply{})
	case cmdDialogue:
		if err := c.allow(now, need{dialogueBucket, 1}, need{contentBucket, utf8.RuneCountInString(r.Content)}); err != nil {
			c.answerRequest(ctx, now, cmd, r, err, nil)
			return
		}
		m, err := svc.Send(ctx, id, r.SessionID, r.RequestID, r.Content)
		if err == nil {
			sent := c.srv.now()
			c.srv.opt.Observer.Sent(sent, sent.Sub(now))
		}
		c.answerRequest(ctx, now, cmd, r, err, dialogueReply{RequestID: r.RequestID, MsgID: m.ID})
	case cmdViewedAck, cmdDeliveredAck:
		if err := c.allow(now, need{receiptBucket, 1}); err != nil {
			c.answer(ctx, now, cmd, err, nil)
			return
		}
		acknowledge := svc.Delivered
		if cmd == cmdViewedAck {
			acknowledge = svc.Viewed
		}
		c.answer(ctx, now, cmd, acknowledge(ctx, id, r.SessionID, r.MsgID), okReply{})
	case cmdResume:
		if err := c.allow(now, need{resumeBucket, 1}); err != nil {
			c.answer(ctx, now, cmd, err, nil)
			return
		}
		msgs, complete, err := svc.Resume(ctx, id, r.SessionID, r.AfterMsgID)
		if err == nil {
			for _, m := range msgs {
				p := session.DialoguePush(m)
				c.reply(frame{kind: kindPush, cmd: p.Cmd, body: p.Body})
			}
		}
		c.answer(ctx, now, cmd, err, resumeReply{SessionID: r.SessionID, Count: len(msgs), Complete: complete})
	case cmdLeave:
		if err := c.allow(now, need{leaveBucket, 1}); err != nil {
			c.answer(ctx, now, cmd, err, nil)
			return
		}
		c.answer(ctx, now, cmd, svc.Leave(ctx, id, r.SessionID), okReply{})
	case cmdLogout:
		err := svc.Logout(ctx, id)
		c.answer(ctx, now, cmd, err, okReply{})
		if err == nil {
			c.loggedOut.Store(true)
			c.closeAfter(closeNormal, "logged out")
		}
	case cmdTyping:
		err := c.allow(now, need{typingBucket, 1})
		if err == nil && r.Typing == nil {
			err = duet.Errorf(duet.ParamErr, "typing must be true or false")
		}
		if err == nil {
			err = svc.Typing(ctx, id, r.SessionID, *r.Typing)
		}
		if err != nil {
			c.answer(ctx, now, cmd, err, nil)
		}
	case cmdReport:
		if err := c.allow(now, need{reportBucket, 1}); err != nil {
			c.answer(ctx, now, cmd, err, nil)
			return
		}
		reportID, err := svc.Report(ctx, id, r.SessionID, r.Category, r.Note)
		c.answer(ctx, now, cmd, err, reportReply{ReportID: reportID})
	}
}

func (c *conn) createAccount(ctx context.Context, now time.Time, r *request) {
	if c.account.Load() != 0 {
		c.answer(ctx, now, cmdCreateAccount, duet.Errorf(duet.ParamErr, "this connection already has an account"), nil)
		return
	}
	if err := c.admitAccount(ctx, r.Proof); err != nil {
		c.answer(ctx, now, cmdCreateAccount, err, nil)
		return
	}
	a, token, err := c.srv.svc.CreateAccount(ctx, r.NickName, c.client)
	if err == nil {
		err = c.bindLimits(ctx, a.ID, false) // a new account has spent nothing anywhere
	}
	if err != nil {
		c.answer(ctx, now, cmdCreateAccount, err, nil)
		return
	}
	reply := createAccountReply{NickName: a.Nickname, AccountID: a.ID, Token: token, Epoch: c.srv.svc.Epoch()}
	if err := c.srv.hub.attach(ctx, a.ID, c, replyFrame(cmdCreateAccount, reply)); err != nil {
		c.unbindLimits(a.ID)
		c.answer(ctx, now, cmdCreateAccount, err, nil)
		return
	}
	c.srv.opt.Observer.Replied(cmdCreateAccount, duet.OK) // the reply went out with the attach
}

// admitAccount lets a new account be made, or says why not: over the limits of the client's
// address, or until the client solves a challenge (code 11). A client that sends a valid proof
// is let in at once, however busy the service: it has paid. Without one, the address's own
// account bucket lets it in while the service asks no challenge; once it is empty, or while the
// service asks one of everybody, the address takes from its bucket of challenged accounts
// instead, the more of which it has spent the harder its challenge. An address exempt from rate
// limits is asked a challenge only while the service asks one of everybody.
func (c *conn) admitAccount(ctx context.Context, proof *challenge.Proof) error {
	gate := c.srv.opt.Challenges
	arrival := challenge.Arrival{Level: -1, Mode: challenge.Off}
	if gate != nil {
		if proof != nil {
			err := gate.Redeem(ctx, *proof)
			if !challenge.Refused(err) {
				return err
			}
			if again := gate.Arrive(false); again.Mode != challenge.Off {
				return c.requireChallenge(ctx, gate, again.Level, err)
			}
			// Challenges were switched off since this one was issued: it is not needed.
		}
		arrival = gate.Arrive(!c.exempt)
	}
	if c.exempt {
		if arrival.Level < 0 {
			return nil
		}
		return gate.Require(arrival.Level, nil)
	}
	if arrival.Level < 0 {
		err := c.srv.addrs.CreateAccount(ctx, c.client.Addr)
		if duet.ErrorCode(err) != duet.RateLimited || arrival.Mode == challenge.Off {
			return err
		}
	}
	return c.requireChallenge(ctx, gate, arrival.Level, nil)
}

// requireChallenge refuses a new account until it solves a challenge at least as hard as level
// (the service's), and as hard as the client's address calls for, taken from the address's
// bucket of challenged accounts; why is the sentence of a refused proof, if any.
func (c *conn) requireChallenge(ctx context.Context, gate *challenge.Gate, level int, why error) error {
	if !c.exempt {
		spent, err := c.srv.addrs.ChallengeAccount(ctx, c.client.Addr)
		if err != nil {
			return err
		}
		level = max(level, gate.AddressLevel(spent))
	}
	return gate.Require(max(level, 0), why)
}

func (c *conn) reconnect(ctx context.Context, now time.Time, r *request) {
	switch {
	case c.account.Load() != 0:
		c.answer(ctx, now, cmdReconnect, duet.Errorf(duet.ParamErr, "this connection already has an account"), nil)
		return
	case r.AccountID <= 0 || r.AccountID > maxID || r.Token == "":
		c.answer(ctx, now, cmdReconnect, duet.Errorf(duet.ParamErr, "accountId and token are required"), nil)
		return
	}
	if !c.exempt {
		if err := c.srv.addrs.Reconnect(ctx, c.client.Addr); err != nil {
			c.answer(ctx, now, cmdReconnect, err, nil)
			return
		}
	}
	svc := c.srv.svc
	a, sessions, err := svc.Authenticate(ctx, r.AccountID, r.Token, c.client)
	if duet.ErrorCode(err) == duet.NoDataFound {
		// The epoch tells the client whether the account is gone because the service lost its
		// state, rather than because the client was away too long.
		c.srv.opt.Observer.Replied(cmdReconnect, duet.NoDataFound)
		body := errorBody(err, "")
		c.reply(replyFrame(cmdReconnect, goneReply{errorReply: body, Epoch: svc.Epoch()}))
		return
	}
	if err == nil {
		err = svc.TakeOver(ctx, a, c.srv.hub.node)
	}
	if err == nil {
		// After the takeover, so that the limits the account's last node saved are there.
		err = c.bindLimits(ctx, a.ID, true)
	}
	if err != nil {
		c.answer(ctx, now, cmdReconnect, err, nil)
		return
	}
	reply := reconnectReply{Sessions: make([]sessionSummary, 0, len(sessions)), Epoch: svc.Epoch()}
	for _, s := range sessions {
		partner, _ := s.Partner(a.ID)
		delivered, viewed := s.Receipts(a.ID)
		reply.Sessions = append(reply.Sessions, sessionSummary{
			SessionID: s.ID, PartnerID: partner.ID, PartnerName: partner.Nickname, LastMsgID: s.LastMsgID,
			DeliveredMsgID: delivered, ViewedMsgID: viewed,
		})
	}
	if err := c.srv.hub.attach(ctx, a.ID, c, replyFrame(cmdReconnect, reply)); err != nil {
		c.unbindLimits(a.ID)
		c.answer(ctx, now, cmdReconnect, err, nil)
		return
	}
	c.srv.opt.Observer.Replied(cmdReconnect, duet.OK)
	if err := svc.Back(ctx, a.ID); err != nil {
		c.srv.log.Warn("marking an account back", "account", a.ID, "err", err)
	}
}

// bindLimits gives the connection the limits of the account it is about to serve, with load
// those the account spent on other nodes.
func (c *conn) bindLimits(ctx context.Context, accountID int64, load bool) error {
	if c.exempt {
		return nil
	}
	l, err := c.srv.accounts.load(ctx, accountID, load)
	if err != nil {
		c.srv.log.Warn("loading an account's rate limits", "account", accountID, "err", err)
		return duet.Errorf(duet.InternalErr, "the service could not look up your account's limits just now; try again in a moment")
	}
	c.limits = l
	return nil
}

// unbindLimits undoes bindLimits for an account the connection did not get after all.
func (c *conn) unbindLimits(accountID int64) {
	if !c.exempt {
		c.srv.accounts.unbind(accountID)
		c.limits = nil
	}
}

var errTakenOver = duet.Errorf(duet.Unauthorized, "your account is now connected elsewhere")

// checkIDs checks the ids of a request: in range, present where cmd needs them, and any that
// names an account naming this connection's own.
func checkIDs(cmd string, account int64, r *request) error {
	for _, v := range []int64{r.AccountID, r.SenderID, r.SessionID, r.MsgID, r.AfterMsgID} {
		if v < 0 || v > maxID {
			return duet.Errorf(duet.ParamErr, "ids must be integers from 1 to 2^53-1")
		}
	}
	switch {
	case r.SessionID == 0 && cmd != cmdMatch && cmd != cmdCancelMatch && cmd != cmdLogout:
		return duet.Errorf(duet.ParamErr, "sessionId is required")
	case r.MsgID == 0 && (cmd == cmdViewedAck || cmd == cmdDeliveredAck):
		return duet.Errorf(duet.ParamErr, "msgId is required")
	case (r.AccountID != 0 && r.AccountID != account) || (r.SenderID != 0 && r.SenderID != account):
		return duet.Errorf(duet.Unauthorized, "you can only act as your own account")
	}
	return nil
}

func known(cmd string) bool {
	switch cmd {
	case cmdMatch, cmdCancelMatch, cmdDialogue, cmdViewedAck, cmdDeliveredAck, cmdResume, cmdLeave, cmdLogout, cmdTyping, cmdReport:
		return true
	}
	return false
}

func isPush(cmd string) bool {
	switch cmd {
	case session.CmdPushDialogue, session.CmdPushViewedAck, session.CmdPushDelivered, session.CmdPushSignal, cmdPing:
		return true
	}
	return false
}

// answer queues the reply to cmd: ok when err is nil, else the error with its code (a ParamErr
// counting as a bad frame).
func (c *conn) answer(ctx context.Context, now time.Time, cmd string, err error, ok any) {
	c.answerRequest(ctx, now, cmd, nil, err, ok)
}

// answerRequest is answer for a request whose error replies echo its requestId. A Banned
// reply is followed by Kicked and the close; bad and rate-limited requests count as bad frames.
func (c *conn) answerRequest(ctx context.Context, now time.Time, cmd string, r *request, err error, ok any) {
	code := duet.ErrorCode(err)
	c.srv.opt.Observer.Replied(cmd, code)
	if err == nil {
		c.reply(replyFrame(cmd, ok))
		return
	}
	if code == duet.InternalErr {
		c.srv.log.Error("request failed", "cmd", cmd, "account", c.account.Load(), "err", err)
	}
	requestID := ""
	if r != nil {
		requestID = r.RequestID
	}
	reply := errorBody(err, requestID)
	c.reply(frame{kind: kindReply, cmd: cmd, body: mustJSON(reply)})
	switch {
	case code == duet.Banned:
		c.kick(session.KickedData{Reason: reply.Reason, Until: reply.Until})
	case (code == duet.ParamErr || code == duet.RateLimited) && c.badFrame(now):
		c.strikeOut(ctx)
	}
}

// errorBody is the body of a reply refusing a request with err.
func errorBody(err error, requestID string) errorReply {
	reply := errorReply{Code: duet.ErrorCode(err), Msg: duet.ErrorMessage(err), RequestID: requestID}
	if e, isErr := errors.AsType[*duet.Error](err); isErr {
		reply.RetryAfterMs = e.RetryAfter.Milliseconds()
		if e.Code == duet.RateLimited && reply.RetryAfterMs == 0 {
			reply.RetryAfterMs = 1
		}
		reply.Reason = e.Reason
		if !e.Until.IsZero() {
			reply.Until = e.Until.UnixMilli()
		}
	}
	if required, isRequired := errors.AsType[*challenge.Required](err); isRequired {
		reply.Challenge = &required.Challenge
	}
	return reply
}

func replyFrame(cmd string, body any) frame {
	return frame{kind: kindReply, cmd: cmd, body: mustJSON(body)}
}

func pingBody(accountID int64) []byte { return mustJSON(pingFrame{AccountID: accountID}) }

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic("push: encoding a frame: " + err.Error()) // frames are plain structs: cannot happen
	}
	return b
}

// Reply bodies. The code comes first, as in the protocol's examples.
type (
	okReply struct {
		Code duet.Code `json:"code"`
	}
	errorReply struct {
		Code         duet.Code `json:"code"`
		Msg          string    `json:"msg"`
		RequestID    string    `json:"requestId,omitempty"`
		RetryAfterMs int64     `json:"retryAfterMs,omitempty"`
		Until        int64     `json:"until,omitempty"`
		Reason       string    `json:"reason,omitempty"`
		// Challenge comes with code ChallengeRequired.
		Challenge *challenge.Challenge `json:"challenge,omitempty"`
	}
	pingFrame struct {
		AccountID int64 `json:"accountId"`
	}
	createAccountReply struct {
		Code      duet.Code `json:"code"`
		NickName  string    `json:"nickName"`
		AccountID int64     `json:"accountId"`
		Token     string    `json:"token"`
		Epoch     string    `json:"epoch"`
	}
	matchReply struct {
		Code            duet.Code `json:"code"`
		PartnerID       int64     `json:"partnerId"`
		PartnerName     string    `json:"partnerName"`
		SessionID       int64     `json:"sessionId"`
		CommonInterests []string  `json:"commonInterests"`
	}
	dialogueReply struct {
		Code      duet.Code `json:"code"`
		RequestID string    `json:"requestId,omitempty"`
		MsgID     int64     `json:"msgId"`
	}
	resumeReply struct {
		Code      duet.Code `json:"code"`
		SessionID int64     `json:"sessionId"`
		Count     int       `json:"count"`
		Complete  bool      `json:"complete"`
	}
	reportReply struct {
		Code     duet.Code `json:"code"`
		ReportID int64     `json:"reportId"`
	}
	sessionSummary struct {
		SessionID   int64  `json:"sessionId"`
		PartnerID   int64  `json:"partnerId"`
		PartnerName string `json:"partnerName"`
		LastMsgID   int64  `json:"lastMsgId"`
		// How far the reconnecting account's own messages got: the partner's watermarks.
		DeliveredMsgID int64 `json:"deliveredMsgId"`
		ViewedMsgID    int64 `json:"viewedMsgId"`
	}
	reconnectReply struct {
		Code     duet.Code        `json:"code"`
		Sessions []sessionSummary `json:"sessions"`
		Epoch    string           `json:"epoch"`
	}
	// goneReply is RECONNECT's code 4: the account is gone, in this epoch.
	goneReply struct {
		errorReply
		Epoch string `json:"epoch"`
	}
)
