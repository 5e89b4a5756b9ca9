using System.Text;
using Kv.Commands;
using Kv.Resp;
using Microsoft.Extensions.Logging;

namespace Kv.Server;

/// <summary>
/// The command pipeline of redis 7.0.15 (server.c processCommand and call): lookup, arity, auth, state checks
/// (MULTI, read-only replica, min-replicas, stale data, loading, pub/sub context), queueing inside MULTI,
/// execution with the time snapshot, statistics, propagation of writes and serving of clients blocked on keys.
/// Runs under the execution lock.
/// </summary>
public static class Dispatcher
{
    /// <summary>Validates and executes one request for <paramref name="c"/>. Replies go to <c>c.Out</c>.</summary>
    public static void ProcessCommand(ClientSession c, Request req)
    {
        var server = c.Context.Server;
        var name = req[0];
        if (name.Length is 4 or 5 && !c.IsMaster
            && (System.Text.Ascii.EqualsIgnoreCase(name, "post"u8) || System.Text.Ascii.EqualsIgnoreCase(name, "host:"u8)))
        {
            SecurityWarning(c);
            return;
        }
        var cmd = server.Commands.Find(name);
        if (cmd is not null && cmd.Subcommands is not null && req.Count >= 2)
        {
            var sub = FindSub(cmd, req[1]);
            if (sub is null)
            {
                Reject(c, cmd, $"ERR unknown subcommand '{Raw(req[1], 128)}'. Try {cmd.Name.ToUpperInvariant()} HELP.", raw: true);
                return;
            }
            cmd = sub;
        }
        if (cmd is null)
        {
            var args = new StringBuilder();
            for (int i = 1; i < req.Count && args.Length < 128; i++)
            {
                int room = 128 - args.Length; // measured before the opening quote, as sdscatprintf's "%.*s"
                args.Append('\'').Append(Raw(req[i], room)).Append("' ");
            }
            Reject(c, null, $"ERR unknown command '{Raw(req[0], 128)}', with args beginning with: {args}", raw: true);
            return;
        }
        c.LastCommand = cmd.FullName; // processCommand sets c->lastcmd at lookup: CLIENT INFO shows itself
        if ((cmd.Arity > 0 && req.Count != cmd.Arity) || req.Count < -cmd.Arity)
        {
            Reject(c, cmd, Errors.WrongArity(cmd.FullName));
            return;
        }
        if (cmd.Handler is null)
        {
            // A container called without a subcommand (arity -2 containers always need one).
            Reject(c, cmd, Errors.WrongArity(cmd.FullName));
            return;
        }
        if ((cmd.Has(CommandFlags.Protected) || (cmd.Parent?.Has(CommandFlags.Protected) ?? false)) && !ProtectedAllowed(c))
        {
            Reject(c, cmd, $"ERR {(cmd.Parent ?? cmd).Name.ToUpperInvariant()} command not allowed. If the enable-debug-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.");
            return;
        }
        if (!c.Authenticated && !cmd.Has(CommandFlags.NoAuth))
        {
            Reject(c, cmd, Errors.NoAuth);
            return;
        }
        if (c.MultiQueue is not null && cmd.Has(CommandFlags.NoMulti))
        {
            Reject(c, cmd, "ERR Command not allowed inside a transaction");
            return;
        }
        bool isWrite = cmd.Has(CommandFlags.Write);
        // maxmemory (processCommand's performEvictions check): kv evicts nothing (every policy acts as noeviction),
        // so commands that may grow memory are refused while used memory is over the limit.
        if (server.MaxMemory.Number > 0 && !c.IsMaster && cmd.Has(CommandFlags.DenyOom) && server.OverMaxMemory())
        {
            Reject(c, cmd, "OOM command not allowed when used memory > 'maxmemory'.");
            return;
        }
        // MISCONF after a failed background save (stop-writes-on-bgsave-error), as processCommand's disk check.
        if ((isWrite || cmd.Name == "ping") && !c.IsMaster && server.DiskErrorCheck?.Invoke() is { } diskErr)
        {
            Reject(c, cmd, diskErr);
            return;
        }
        if (isWrite && !c.IsMaster && server.Replication is { } repl)
        {
            var err = repl.CheckWriteAllowed(c);
            if (err is not null)
            {
                Reject(c, cmd, err);
                return;
            }
        }
        if (c.SubscriptionCount > 0 && c.Out.Resp == 2 && !cmd.Has(CommandFlags.SubscribeContext))
        {
            Reject(c, cmd, $"ERR Can't execute '{cmd.FullName}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context");
            return;
        }
        if (!c.IsMaster && server.Replication is { } r2 && !cmd.Has(CommandFlags.Stale) && r2.IsStale())
        {
            Reject(c, cmd, Errors.MasterDown);
            return;
        }
        if (server.Loading && !cmd.Has(CommandFlags.Loading))
        {
            Reject(c, cmd, Errors.Loading);
            return;
        }
        if (server.WritesPaused && server.Replication!.PostponeIfPaused(c, cmd, req)) return; // FAILOVER write pause
        if (c.MultiQueue is not null && cmd.Name is not ("exec" or "discard" or "multi" or "watch" or "quit" or "reset"))
        {
            var argv = new byte[req.Count][];
            for (int i = 0; i < req.Count; i++) argv[i] = req.ToArray(i);
            c.MultiQueue.Add((cmd, argv));
            c.Out.WriteRaw("+QUEUED\r\n"u8);
            return;
        }
        Call(c, cmd, req, topLevel: true);
        // call(): commands flagged skip_monitor or admin (REPLCONF, CONFIG, DEBUG...) are not shown to MONITOR.
        if (server.Monitors.Count > 0 && !cmd.Has(CommandFlags.SkipMonitor) && !cmd.Has(CommandFlags.Admin)) FeedMonitors(c, req);
    }

    private static bool ProtectedAllowed(ClientSession c)
    {
        var mode = c.Context.Server.Config.Get("enable-debug-command");
        if (mode == "yes" || c.Socket is null) return true;
        return mode == "local" && c.Address is { } a && System.Net.IPAddress.IsLoopback(a.Address);
    }

    private static CommandDef? FindSub(CommandDef container, ReadOnlySpan<byte> name)
    {
        if (name.Length > 64) return null;
        var s = Encoding.ASCII.GetString(name);
        return container.Subcommands!.GetValueOrDefault(s);
    }

    /// <summary>Client bytes as a Latin-1 string (one char per byte, at most <paramref name="max"/>), for <c>raw</c> errors.</summary>
    private static string Raw(ReadOnlySpan<byte> s, int max) => Encoding.Latin1.GetString(s.Length > max ? s[..max] : s);

    private static long _securityWarningLoggedMs;

    /// <summary>
    /// An HTTP request line or header sent to the port (a browser tricked into Cross Protocol Scripting): as 7.0.15's
    /// processCommand / securityWarningCommand, the connection is closed with no reply, not even for what came before
    /// it in the same read (a client closed ASAP gets no more writes), and a warning is logged at most once a minute.
    /// </summary>
    private static void SecurityWarning(ClientSession c)
    {
        long now = KvClock.UnixMs();
        if (now - _securityWarningLoggedMs > 60_000)
        {
            _securityWarningLoggedMs = now;
            c.Context.Server.Log.LogWarning("Possible SECURITY ATTACK detected. It looks like somebody is sending POST or Host: commands to Redis. This is likely due to an attacker attempting to use Cross Protocol Scripting to compromise your Redis instance. Connection aborted.");
        }
        c.Out.Truncate(0);
        c.Close(null);
    }

    /// <summary>
    /// rejectCommand: counts the rejection, flags an open MULTI dirty and replies the error. With <paramref name="raw"/>
    /// the text is Latin-1 (client bytes echoed unchanged, as redis's "%.128s").
    /// </summary>
    private static void Reject(ClientSession c, CommandDef? cmd, string error, bool raw = false)
    {
        if (c.MultiQueue is not null) c.MultiDirty = true;
        if (cmd is not null) cmd.RejectedCalls++;
        c.Context.Server.Stats.ErrorReplies++;
        c.Context.Server.CountErrorReply(cmd is { Name: "exec", Parent: null } ? "EXECABORT" : error);
        if (cmd is { Name: "exec", Parent: null })
        {
            // rejectCommand on EXEC = execCommandAbort: the transaction is discarded and the reason is wrapped.
            // Reasons formatted by processCommand carry no code ("wrong number of arguments..."), shared errors
            // keep theirs ("NOAUTH Authentication required.").
            c.MultiQueue = null;
            c.MultiDirty = false;
            c.Context.Server.Watches.UnwatchAll(c);
            var reason = error.StartsWith("ERR ", StringComparison.Ordinal) ? error[4..] : error;
            c.Out.Error("EXECABORT Transaction discarded because of: " + reason);
            return;
        }
        if (raw) c.Out.ErrorBytes(Encoding.Latin1.GetBytes(error));
        else c.Out.Error(error);
    }

    /// <summary>
    /// Executes a command (server.c call()): runs the handler with a fresh time snapshot, counts stats, and if the
    /// dataset changed propagates the (possibly rewritten) argv. Top-level calls also flush the execution unit's
    /// propagation and serve clients blocked on keys that became ready.
    /// </summary>
    public static void Call(ClientSession c, CommandDef cmd, Request req, bool topLevel)
    {
        var server = c.Context.Server;
        var ctx = c.Context;
        ctx.Command = cmd;
        ctx.Args = req;
        ctx.PropagateAs = null;
        ctx.PreventPropagation = false;
        // One clock read per command: the end of one command in a batch is the start of the next (ClockTicks).
        long t0 = c.ClockTicks != 0 ? c.ClockTicks : KvClock.Ticks();
        if (topLevel || ctx.NowMs == 0) ctx.NowMs = KvClock.UnixMsAt(t0);
        long dirtyBefore = server.Dirty;
        int outBefore = c.Out.Length;
        cmd.Handler!(ctx);
        long t1 = KvClock.Ticks();
        c.ClockTicks = t1;
        long elapsedUs = KvClock.ElapsedMicroseconds(t0, t1);
        cmd.Calls++;
        cmd.Microseconds += elapsedUs;
        server.Stats.TotalCommands++;
        if (c.Out.Length > outBefore && c.Out.Written[outBefore] == (byte)'-')
        {
            cmd.FailedCalls++;
            server.Stats.ErrorReplies++;
            server.CountErrorReply(c.Out.Written[outBefore..]);
        }
        long dirty = server.Dirty - dirtyBefore;
        if (dirty > 0 && !ctx.PreventPropagation && !c.IsMaster && server.PropagationWanted)
        {
            if (ctx.PropagateAs is { } rewritten) server.AlsoPropagate(c.DbIndex, rewritten);
            else if (topLevel && !server.HasPendingPropagation) server.PropagateRequest(c.DbIndex, req);
            else
            {
                var argv = new byte[req.Count][];
                for (int i = 0; i < req.Count; i++) argv[i] = req.ToArray(i);
                server.AlsoPropagate(c.DbIndex, argv);
            }
        }
        if (topLevel)
        {
            server.FlushPropagation();
            if (dirty > 0 && server.Replication is { } repl) c.WriteOffset = repl.MasterReplOffset;
            server.Blocking.HandleReadyKeys();
        }
        ctx.NowMs = 0;
    }

    private static void FeedMonitors(ClientSession c, Request req)
    {
        var server = c.Context.Server;
        var sb = new StringBuilder();
        long now = (DateTime.UtcNow.Ticks - DateTime.UnixEpoch.Ticks) / 10; // microseconds, as redis's ustime()
        sb.Append('+').Append(now / 1_000_000).Append('.').Append((now % 1_000_000).ToString("D6"))
          .Append(" [").Append(c.DbIndex).Append(' ');
        sb.Append(c.Address is null ? "lua" : $"{c.Address.Address}:{c.Address.Port}").Append(']');
        for (int i = 0; i < req.Count; i++) SdsRepr.Append(sb.Append(' '), req[i]);
        sb.Append("\r\n");
        var bytes = Encoding.UTF8.GetBytes(sb.ToString());
        foreach (var m in server.Monitors)
        {
            if (m == c) continue;
            m.Out.WriteRaw(bytes);
            m.ScheduleFlush();
        }
    }
}
