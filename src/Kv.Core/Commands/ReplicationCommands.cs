using Kv.Replication;

namespace Kv.Commands;

/// <summary>
/// Replication commands (replication.c, server.c): REPLICAOF/SLAVEOF, ROLE, WAIT, FAILOVER, REPLCONF, PSYNC, SYNC.
/// They delegate to the <see cref="ReplicationManager"/> attached to the server; without it they answer an error
/// (ROLE answers as a master without replicas).
/// </summary>
[CommandGroup]
internal static class ReplicationCommands
{
    private const string NotAttached = "ERR replication is not enabled on this server";

    public static void Register(CommandTable t)
    {
        const CommandFlags admin = CommandFlags.Admin | CommandFlags.NoScript;
        t.Add("replicaof", 3, admin | CommandFlags.Stale, 0, 0, 0, ReplicaOf, "server", "admin slow dangerous");
        t.Add("slaveof", 3, admin | CommandFlags.Stale, 0, 0, 0, ReplicaOf, "server", "admin slow dangerous");
        t.Add("role", 1, CommandFlags.NoScript | CommandFlags.Loading | CommandFlags.Stale | CommandFlags.Fast, 0, 0, 0, Role, "server", "admin fast dangerous");
        t.Add("wait", 3, CommandFlags.NoScript, 0, 0, 0, Wait, "generic", "slow connection");
        t.Add("failover", -1, admin | CommandFlags.Stale, 0, 0, 0, Failover, "server", "admin slow dangerous");
        t.Add("replconf", -1, admin | CommandFlags.Loading | CommandFlags.Stale | CommandFlags.AllowBusy, 0, 0, 0, ReplConf, "server", "admin slow dangerous");
        t.Add("psync", -3, admin | CommandFlags.NoMulti, 0, 0, 0, ctx => Sync(ctx, true), "server", "admin slow dangerous");
        t.Add("sync", 1, admin | CommandFlags.NoMulti, 0, 0, 0, ctx => Sync(ctx, false), "server", "admin slow dangerous");
    }

    private static ReplicationManager? M(CommandContext ctx)
    {
        var m = ReplicationManager.Of(ctx.Server);
        if (m is null) ctx.Error(NotAttached);
        return m;
    }

    private static void ReplicaOf(CommandContext ctx) => M(ctx)?.ReplicaOf(ctx);

    private static void Role(CommandContext ctx)
    {
        var m = ReplicationManager.Of(ctx.Server);
        if (m is null)
        {
            ctx.Reply.ArrayHeader(3);
            ctx.Reply.Bulk("master"u8);
            ctx.Reply.Integer(0);
            ctx.Reply.ArrayHeader(0);
            return;
        }
        m.Role(ctx);
    }

    private static void Wait(CommandContext ctx) => M(ctx)?.Wait(ctx);

    private static void ReplConf(CommandContext ctx) => M(ctx)?.ReplConf(ctx);

    private static void Sync(CommandContext ctx, bool psync) => M(ctx)?.Sync(ctx, psync);

    private static void Failover(CommandContext ctx) => M(ctx)?.Failover(ctx);
}
