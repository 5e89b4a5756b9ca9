using Kv.Resp;
using Kv.Server;

namespace Kv.Commands;

/// <summary>MULTI EXEC DISCARD WATCH UNWATCH (multi.c in redis 7.0.15).</summary>
[CommandGroup]
internal static class TransactionCommands
{
    public static void Register(CommandTable t)
    {
        const CommandFlags f = CommandFlags.NoScript | CommandFlags.Loading | CommandFlags.Stale | CommandFlags.Fast | CommandFlags.AllowBusy;
        t.Add("multi", 1, f, 0, 0, 0, Multi, "transactions", "fast transaction");
        t.Add("exec", 1, CommandFlags.NoScript | CommandFlags.Loading | CommandFlags.Stale | CommandFlags.SkipSlowlog, 0, 0, 0, Exec, "transactions", "slow transaction");
        t.Add("discard", 1, f, 0, 0, 0, Discard, "transactions", "fast transaction");
        t.Add("watch", -2, f, 1, -1, 1, Watch, "transactions", "fast transaction");
        t.Add("unwatch", 1, f, 0, 0, 0, ctx => { ctx.Server.Watches.UnwatchAll(ctx.Client); ctx.Reply.Ok(); }, "transactions", "fast transaction");
    }

    private static void Multi(CommandContext ctx)
    {
        if (ctx.Client.MultiQueue is not null)
        {
            ctx.Error("ERR MULTI calls can not be nested");
            return;
        }
        ctx.Client.MultiQueue = [];
        ctx.Client.MultiDirty = false;
        ctx.Reply.Ok();
    }

    private static void Discard(CommandContext ctx)
    {
        if (ctx.Client.MultiQueue is null)
        {
            ctx.Error("ERR DISCARD without MULTI");
            return;
        }
        ctx.Client.MultiQueue = null;
        ctx.Client.MultiDirty = false;
        ctx.Server.Watches.UnwatchAll(ctx.Client);
        ctx.Reply.Ok();
    }

    private static void Watch(CommandContext ctx)
    {
        if (ctx.Client.MultiQueue is not null)
        {
            ctx.Error("ERR WATCH inside MULTI is not allowed");
            return;
        }
        for (int i = 1; i < ctx.Argc; i++) ctx.Server.Watches.Watch(ctx.Client, ctx.Client.DbIndex, ctx.Arg(i));
        ctx.Reply.Ok();
    }

    /// <summary>isWatchedKeyExpired: EXEC fails when a watched key is logically expired but not yet deleted.</summary>
    private static bool WatchedKeyExpired(CommandContext ctx)
    {
        long now = KvServer.UnixMs();
        foreach (var (db, key) in ctx.Server.Watches.KeysOf(ctx.Client))
        {
            var d = ctx.Server.Databases[db];
            if (d.Main.TryGetValue(key, out _) && d.GetExpire(key) is var t && t >= 0 && t <= now) return true;
        }
        return false;
    }

    private static void Exec(CommandContext ctx)
    {
        var c = ctx.Client;
        var queue = c.MultiQueue;
        if (queue is null)
        {
            ctx.Error("ERR EXEC without MULTI");
            return;
        }
        c.MultiQueue = null;
        var server = ctx.Server;
        if (c.MultiDirty)
        {
            c.MultiDirty = false;
            server.Watches.UnwatchAll(c);
            ctx.Error(Errors.ExecAbort);
            return;
        }
        if (c.WatchDirty || WatchedKeyExpired(ctx))
        {
            server.Watches.UnwatchAll(c);
            ctx.Reply.NullArray();
            return;
        }
        server.Watches.UnwatchAll(c);
        ctx.Reply.ArrayHeader(queue.Count);
        var req = new Request();
        long now = KvServer.UnixMs();
        foreach (var (cmd, argv) in queue)
        {
            // Re-check state that may have changed since queueing (7.0 execCommand).
            if (cmd.Has(CommandFlags.Write) && !c.IsMaster && server.Replication is { } repl && repl.CheckWriteAllowed(c) is { } err)
            {
                ctx.Error(err);
                continue;
            }
            req.SetOwned(argv);
            ctx.NowMs = now;
            ctx.InExec = true;
            try { Dispatcher.Call(c, cmd, req, topLevel: false); }
            finally { ctx.InExec = false; }
        }
        // The queued commands propagated themselves; EXEC itself is never propagated.
        ctx.PreventPropagation = true;
        ctx.Command = server.Commands.Find("exec")!;
    }
}
