using Kv.Server;

namespace Kv.Commands;

/// <summary>SUBSCRIBE UNSUBSCRIBE PSUBSCRIBE PUNSUBSCRIBE PUBLISH PUBSUB (pubsub.c in redis 7.0.15).</summary>
[CommandGroup]
internal static class PubSubCommands
{
    public static void Register(CommandTable t)
    {
        const CommandFlags f = CommandFlags.PubSub | CommandFlags.NoScript | CommandFlags.Loading | CommandFlags.Stale | CommandFlags.SubscribeContext;
        t.Add("subscribe", -2, f, 0, 0, 0, Subscribe, "pubsub", "pubsub slow");
        t.Add("unsubscribe", -1, f, 0, 0, 0, Unsubscribe, "pubsub", "pubsub slow");
        t.Add("psubscribe", -2, f, 0, 0, 0, PSubscribe, "pubsub", "pubsub slow");
        t.Add("punsubscribe", -1, f, 0, 0, 0, PUnsubscribe, "pubsub", "pubsub slow");
        t.Add("publish", 3, CommandFlags.PubSub | CommandFlags.Loading | CommandFlags.Stale | CommandFlags.Fast | CommandFlags.MayReplicate, 0, 0, 0, Publish, "pubsub", "pubsub fast");
        var pubsub = t.Add("pubsub", -2, CommandFlags.None, 0, 0, 0, null, "pubsub", "slow");
        const CommandFlags pf = CommandFlags.PubSub | CommandFlags.Loading | CommandFlags.Stale;
        pubsub.Sub(CommandTable.SubDef("channels", -2, pf, Channels));
        pubsub.Sub(CommandTable.SubDef("numsub", -2, pf, NumSub));
        pubsub.Sub(CommandTable.SubDef("numpat", 2, pf, ctx => ctx.Reply.Integer(ctx.Server.PubSub.PatternCount)));
        pubsub.Sub(CommandTable.SubDef("shardchannels", -2, pf, ctx => ctx.Reply.ArrayHeader(0)));
        pubsub.Sub(CommandTable.SubDef("shardnumsub", -2, pf, ctx =>
        {
            ctx.Reply.MapHeader(ctx.Argc - 2);
            for (int i = 2; i < ctx.Argc; i++) { ctx.Reply.Bulk(ctx.Arg(i)); ctx.Reply.Integer(0); }
        }));
    }

    private static void Reply(CommandContext ctx, ReadOnlySpan<byte> kind, ReadOnlySpan<byte> name, bool nullName = false)
    {
        ctx.Reply.PushHeader(3);
        ctx.Reply.Bulk(kind);
        if (nullName) ctx.Reply.Null(); else ctx.Reply.Bulk(name);
        ctx.Reply.Integer(ctx.Client.SubscriptionCount);
    }

    private static bool Denied(CommandContext ctx)
    {
        if (ctx.Client.MultiQueue is not null || ctx.Client.IsMaster) return false;
        return false;
    }

    private static void Subscribe(CommandContext ctx)
    {
        if (Denied(ctx)) return;
        for (int i = 1; i < ctx.Argc; i++)
        {
            ctx.Server.PubSub.Subscribe(ctx.Client, PubSubRegistry.Name(ctx.Arg(i)));
            Reply(ctx, "subscribe"u8, ctx.Arg(i));
        }
    }

    private static void PSubscribe(CommandContext ctx)
    {
        for (int i = 1; i < ctx.Argc; i++)
        {
            ctx.Server.PubSub.PSubscribe(ctx.Client, PubSubRegistry.Name(ctx.Arg(i)));
            Reply(ctx, "psubscribe"u8, ctx.Arg(i));
        }
    }

    private static void Unsubscribe(CommandContext ctx)
    {
        var ps = ctx.Server.PubSub;
        if (ctx.Argc == 1)
        {
            var all = ctx.Client.Channels.ToArray();
            if (all.Length == 0) Reply(ctx, "unsubscribe"u8, default, nullName: true);
            foreach (var ch in all)
            {
                ps.Unsubscribe(ctx.Client, ch);
                Reply(ctx, "unsubscribe"u8, PubSubRegistry.Bytes(ch));
            }
            return;
        }
        for (int i = 1; i < ctx.Argc; i++)
        {
            ps.Unsubscribe(ctx.Client, PubSubRegistry.Name(ctx.Arg(i)));
            Reply(ctx, "unsubscribe"u8, ctx.Arg(i));
        }
    }

    private static void PUnsubscribe(CommandContext ctx)
    {
        var ps = ctx.Server.PubSub;
        if (ctx.Argc == 1)
        {
            var all = ctx.Client.Patterns.ToArray();
            if (all.Length == 0) Reply(ctx, "punsubscribe"u8, default, nullName: true);
            foreach (var p in all)
            {
                ps.PUnsubscribe(ctx.Client, p);
                Reply(ctx, "punsubscribe"u8, PubSubRegistry.Bytes(p));
            }
            return;
        }
        for (int i = 1; i < ctx.Argc; i++)
        {
            ps.PUnsubscribe(ctx.Client, PubSubRegistry.Name(ctx.Arg(i)));
            Reply(ctx, "punsubscribe"u8, ctx.Arg(i));
        }
    }

    private static void Publish(CommandContext ctx) => ctx.Reply.Integer(ctx.Server.PubSub.Publish(ctx.Arg(1), ctx.Arg(2)));

    private static void Channels(CommandContext ctx)
    {
        if (ctx.Argc > 3) { ctx.WrongArity(); return; }
        var pattern = ctx.Argc == 3 ? ctx.ArgBytes(2) : null;
        var list = ctx.Server.PubSub.ActiveChannels
            .Where(ch => pattern is null || Glob.Match(pattern, PubSubRegistry.Bytes(ch), false)).ToList();
        ctx.Reply.ArrayHeader(list.Count);
        foreach (var ch in list) ctx.Reply.Bulk(PubSubRegistry.Bytes(ch));
    }

    private static void NumSub(CommandContext ctx)
    {
        ctx.Reply.MapHeader(ctx.Argc - 2);
        for (int i = 2; i < ctx.Argc; i++)
        {
            ctx.Reply.Bulk(ctx.Arg(i));
            ctx.Reply.Integer(ctx.Server.PubSub.Subscribers(PubSubRegistry.Name(ctx.Arg(i))));
        }
    }
}
