using System.Text;
using Kv.Server;

namespace Kv.Commands;

/// <summary>Connection commands: PING ECHO AUTH HELLO SELECT QUIT RESET CLIENT (redis 7.0.15 server.c, networking.c).</summary>
[CommandGroup]
internal static class ConnectionCommands
{
    private const CommandFlags Conn = CommandFlags.Fast | CommandFlags.Loading | CommandFlags.Stale;

    public static void Register(CommandTable t)
    {
        t.Add("ping", -1, Conn | CommandFlags.SubscribeContext, 0, 0, 0, Ping, "connection", "fast connection");
        t.Add("echo", 2, Conn, 0, 0, 0, ctx => ctx.Reply.Bulk(ctx.Arg(1)), "connection", "fast connection");
        t.Add("auth", -2, CommandFlags.NoScript | CommandFlags.Loading | CommandFlags.Stale | CommandFlags.Fast | CommandFlags.NoAuth | CommandFlags.AllowBusy, 0, 0, 0, Auth, "connection", "fast connection");
        t.Add("hello", -1, CommandFlags.NoScript | CommandFlags.Loading | CommandFlags.Stale | CommandFlags.Fast | CommandFlags.NoAuth | CommandFlags.AllowBusy, 0, 0, 0, Hello, "connection", "fast connection");
        t.Add("select", 2, CommandFlags.Loading | CommandFlags.Stale | CommandFlags.Fast, 0, 0, 0, Select, "connection", "fast connection");
        t.Add("quit", -1, CommandFlags.AllowBusy | CommandFlags.NoAuth | CommandFlags.Loading | CommandFlags.Stale | CommandFlags.Fast | CommandFlags.SubscribeContext, 0, 0, 0, Quit, "connection", "fast connection");
        t.Add("reset", 1, CommandFlags.NoScript | CommandFlags.Loading | CommandFlags.Stale | CommandFlags.Fast | CommandFlags.NoAuth | CommandFlags.AllowBusy | CommandFlags.SubscribeContext, 0, 0, 0, Reset, "connection", "fast connection");
        var client = t.Add("client", -2, CommandFlags.None, 0, 0, 0, null, "connection", "slow");
        client.Sub(CommandTable.SubDef("id", 2, Conn, ctx => ctx.Reply.Integer(ctx.Client.Id)));
        client.Sub(CommandTable.SubDef("setname", 3, Conn, SetName));
        client.Sub(CommandTable.SubDef("getname", 2, Conn, ctx =>
        {
            if (ctx.Client.Name is { } n) ctx.Reply.Bulk(n); else ctx.Reply.Null();
        }));
        client.Sub(CommandTable.SubDef("list", -2, CommandFlags.Admin | CommandFlags.Loading | CommandFlags.Stale | CommandFlags.NoScript, ClientList));
        client.Sub(CommandTable.SubDef("info", 2, Conn, ctx => ctx.Reply.Verbatim(ClientInfoLine(ctx.Server, ctx.Client) + "\n")));
        client.Sub(CommandTable.SubDef("kill", -3, CommandFlags.Admin | CommandFlags.Loading | CommandFlags.Stale | CommandFlags.NoScript, ClientKill));
        client.Sub(CommandTable.SubDef("no-evict", 3, Conn | CommandFlags.Admin, OnOff));
        client.Sub(CommandTable.SubDef("reply", 3, Conn, ClientReply));
        client.Sub(CommandTable.SubDef("help", 2, Conn, ctx => Help(ctx, "CLIENT", [
            "ID", "    Return the ID of the current connection.",
            "INFO", "    Return information about the current client connection.",
            "KILL <ip:port>", "    Kill connection made from <ip:port>.",
            "LIST [TYPE (NORMAL|MASTER|REPLICA|PUBSUB)]", "    Return information about client connections.",
            "GETNAME", "    Return the name of the current connection.",
            "SETNAME <name>", "    Assign the name <name> to the current connection.",
        ])));
    }

    /// <summary>Writes a HELP reply in redis's addReplyHelp shape.</summary>
    public static void Help(CommandContext ctx, string cmd, string[] lines)
    {
        ctx.Reply.ArrayHeader(lines.Length + 3);
        ctx.Reply.Simple($"{cmd} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:");
        foreach (var l in lines) ctx.Reply.Simple(l);
        ctx.Reply.Simple("HELP");
        ctx.Reply.Simple("    Print this help.");
    }

    private static void Ping(CommandContext ctx)
    {
        if (ctx.Argc > 2)
        {
            ctx.WrongArity();
            return;
        }
        if (ctx.Client.SubscriptionCount > 0 && ctx.Reply.Resp == 2)
        {
            ctx.Reply.ArrayHeader(2);
            ctx.Reply.Bulk("pong"u8);
            ctx.Reply.Bulk(ctx.Argc == 1 ? [] : ctx.Arg(1));
            return;
        }
        if (ctx.Argc == 1) ctx.Reply.WriteRaw("+PONG\r\n"u8);
        else ctx.Reply.Bulk(ctx.Arg(1));
    }

    private static bool CheckPassword(CommandContext ctx, string? user, ReadOnlySpan<byte> pass)
    {
        var required = ctx.Server.Config.Get("requirepass");
        if (user is not null && user != "default") return false;
        if (required.Length == 0) return user is not null; // "default" user with nopass accepts any password
        return pass.SequenceEqual(Encoding.UTF8.GetBytes(required));
    }

    private static void Auth(CommandContext ctx)
    {
        if (ctx.Argc > 3)
        {
            ctx.SyntaxError();
            return;
        }
        string? user = ctx.Argc == 3 ? ctx.ArgString(1) : null;
        if (ctx.Argc == 2 && ctx.Server.Config.Get("requirepass").Length == 0)
        {
            ctx.Error("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?");
            return;
        }
        if (CheckPassword(ctx, user ?? "default", ctx.Arg(ctx.Argc - 1)))
        {
            ctx.Client.Authenticated = true;
            ctx.Reply.Ok();
        }
        else ctx.Error(Errors.WrongPass);
    }

    private static void Hello(CommandContext ctx)
    {
        int ver = 0;
        int next = 1;
        if (ctx.Argc >= 2)
        {
            if (!Resp.RequestParser.TryParseLong(ctx.Arg(1), out long v) || v < int.MinValue || v > int.MaxValue)
            {
                ctx.Error("ERR Protocol version is not an integer or out of range");
                return;
            }
            next = 2;
            if (v < 2 || v > 3)
            {
                ctx.Error("NOPROTO unsupported protocol version");
                return;
            }
            ver = (int)v;
        }
        string? setname = null;
        for (int j = next; j < ctx.Argc; j++)
        {
            int more = ctx.Argc - j - 1;
            if (ctx.ArgIs(j, "AUTH") && more >= 2)
            {
                var user = ctx.ArgString(j + 1);
                if (!CheckPassword(ctx, user, ctx.Arg(j + 2)))
                {
                    ctx.Error(Errors.WrongPass);
                    return;
                }
                ctx.Client.Authenticated = true;
                j += 2;
            }
            else if (ctx.ArgIs(j, "SETNAME") && more >= 1)
            {
                setname = ctx.ArgString(j + 1);
                if (!ValidName(setname))
                {
                    ctx.Error("ERR Client names cannot contain spaces, newlines or special characters.");
                    return;
                }
                // 7.0.15 applies the name at once (clientSetNameOrReply inside the option loop): it sticks even
                // when a later option is a syntax error or the client is not authenticated.
                ctx.Client.Name = setname.Length == 0 ? null : setname;
                j++;
            }
            else
            {
                ctx.Error($"ERR Syntax error in HELLO option '{ctx.ArgString(j)}'");
                return;
            }
        }
        if (!ctx.Client.Authenticated)
        {
            ctx.Error("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time");
            return;
        }
        if (ver != 0) ctx.Reply.Resp = ver;
        var r = ctx.Reply;
        r.MapHeader(7);
        r.Bulk("server"u8); r.Bulk("redis"u8);
        r.Bulk("version"u8); r.Bulk(KvVersion.RedisVersion);
        r.Bulk("proto"u8); r.Integer(r.Resp);
        r.Bulk("id"u8); r.Integer(ctx.Client.Id);
        r.Bulk("mode"u8); r.Bulk("standalone"u8);
        r.Bulk("role"u8); r.Bulk(ctx.Server.IsReplica ? "replica"u8 : "master"u8);
        r.Bulk("modules"u8); r.ArrayHeader(0);
    }

    private static void Select(CommandContext ctx)
    {
        if (!Resp.RequestParser.TryParseLong(ctx.Arg(1), out long id) || id < int.MinValue || id > int.MaxValue)
        {
            ctx.Error("ERR value is not an integer or out of range");
            return;
        }
        if (id < 0 || id >= ctx.Server.Databases.Length)
        {
            ctx.Error(Errors.DbIndexOutOfRange);
            return;
        }
        ctx.Client.DbIndex = (int)id;
        ctx.Reply.Ok();
    }

    private static void Quit(CommandContext ctx)
    {
        ctx.Reply.Ok();
        ctx.Client.CloseAfterReply();
    }

    private static void Reset(CommandContext ctx)
    {
        var c = ctx.Client;
        c.MultiQueue = null;
        c.MultiDirty = false;
        ctx.Server.Watches.UnwatchAll(c);
        ctx.Server.PubSub.UnsubscribeAll(c);
        c.DbIndex = 0;
        c.Name = null;
        c.Out.Resp = 2;
        c.SuppressReplies = false;
        if (ctx.Server.Monitors.Remove(c)) { }
        c.Authenticated = ctx.Server.Config.Get("requirepass").Length == 0;
        ctx.Reply.WriteRaw("+RESET\r\n"u8);
    }

    internal static bool ValidName(string name)
    {
        foreach (var ch in name) if (ch < '!' || ch > '~') return false;
        return true;
    }

    private static void SetName(CommandContext ctx)
    {
        var name = ctx.ArgString(2);
        if (!ValidName(name))
        {
            ctx.Error("ERR Client names cannot contain spaces, newlines or special characters.");
            return;
        }
        ctx.Client.Name = name.Length == 0 ? null : name;
        ctx.Reply.Ok();
    }

    /// <summary>One CLIENT LIST line (networking.c catClientInfoString), without the newline.</summary>
    public static string ClientInfoLine(KvServer server, ClientSession c)
    {
        long now = KvServer.UnixMs();
        var addr = c.Address is null ? "" : $"{c.Address.Address}:{c.Address.Port}";
        var laddr = c.LocalAddress is null ? "" : $"{c.LocalAddress.Address}:{c.LocalAddress.Port}";
        int multi = c.MultiQueue?.Count ?? -1;
        return $"id={c.Id} addr={addr} laddr={laddr} fd={(c.Socket is null ? -1 : (int)c.Socket.Handle)} name={c.Name ?? ""} " +
               $"age={(now - c.CreatedMs) / 1000} idle={(now - c.LastInteractionMs) / 1000} flags={c.FlagString()} db={c.DbIndex} " +
               $"sub={c.Channels.Count} psub={c.Patterns.Count} ssub=0 multi={multi} qbuf={c.QueryBufferLength} qbuf-free=0 argv-mem=0 " +
               $"multi-mem=0 rbs=16384 rbp=0 obl=0 oll=0 omem={c.Out.Length} tot-mem=0 events=r cmd={c.LastCommand} user=default " +
               $"redir=-1 resp={c.Out.Resp}";
    }

    private static void ClientList(CommandContext ctx)
    {
        string? type = null;
        HashSet<long>? ids = null;
        if (ctx.Argc == 4 && ctx.ArgIs(2, "TYPE"))
        {
            type = ctx.ArgString(3).ToLowerInvariant();
            if (type is not ("normal" or "master" or "replica" or "slave" or "pubsub"))
            {
                ctx.Error($"ERR Unknown client type '{ctx.ArgString(3)}'");
                return;
            }
        }
        else if (ctx.Argc > 3 && ctx.ArgIs(2, "ID"))
        {
            ids = [];
            for (int i = 3; i < ctx.Argc; i++)
            {
                if (!Resp.RequestParser.TryParseLong(ctx.Arg(i), out long id) || id <= 0)
                {
                    ctx.Error("ERR Invalid client ID");
                    return;
                }
                ids.Add(id);
            }
        }
        else if (ctx.Argc != 2)
        {
            ctx.SyntaxError();
            return;
        }
        var sb = new StringBuilder();
        foreach (var c in ctx.Server.Clients.Values.OrderBy(c => c.Id))
        {
            if (ids is not null && !ids.Contains(c.Id)) continue;
            if (type is not null && TypeOf(c) != (type == "slave" ? "replica" : type)) continue;
            sb.Append(ClientInfoLine(ctx.Server, c)).Append('\n');
        }
        ctx.Reply.Verbatim(sb.ToString());
    }

    private static string TypeOf(ClientSession c) =>
        c.IsMaster ? "master" : c.IsReplica ? "replica" : c.SubscriptionCount > 0 ? "pubsub" : "normal";

    private static void ClientKill(CommandContext ctx)
    {
        var server = ctx.Server;
        if (ctx.Argc == 3)
        {
            var addr = ctx.ArgString(2);
            var victim = server.Clients.Values.FirstOrDefault(c => c.Address is not null && $"{c.Address.Address}:{c.Address.Port}" == addr);
            if (victim is null)
            {
                ctx.Error("ERR No such client");
                return;
            }
            ctx.Reply.Ok();
            if (victim == ctx.Client) ctx.Client.CloseAfterReply();
            else victim.Close("CLIENT KILL");
            return;
        }
        long? id = null;
        string? addrF = null, laddrF = null, typeF = null;
        bool skipme = true;
        long maxAge = 0;
        for (int i = 2; i < ctx.Argc; i += 2)
        {
            if (i + 1 >= ctx.Argc) { ctx.SyntaxError(); return; }
            var v = ctx.ArgString(i + 1);
            if (ctx.ArgIs(i, "ID"))
            {
                if (!long.TryParse(v, out var x) || x <= 0) { ctx.Error("ERR client-id should be greater than 0"); return; }
                id = x;
            }
            else if (ctx.ArgIs(i, "ADDR")) addrF = v;
            else if (ctx.ArgIs(i, "LADDR")) laddrF = v;
            else if (ctx.ArgIs(i, "TYPE"))
            {
                typeF = v.ToLowerInvariant();
                if (typeF == "slave") typeF = "replica";
                if (typeF is not ("normal" or "master" or "replica" or "pubsub")) { ctx.Error($"ERR Unknown client type '{v}'"); return; }
            }
            else if (ctx.ArgIs(i, "USER")) { if (v != "default") { ctx.Error($"ERR No such user '{v}'"); return; } }
            else if (ctx.ArgIs(i, "SKIPME"))
            {
                if (v.Equals("yes", StringComparison.OrdinalIgnoreCase)) skipme = true;
                else if (v.Equals("no", StringComparison.OrdinalIgnoreCase)) skipme = false;
                else { ctx.SyntaxError(); return; }
            }
            else if (ctx.ArgIs(i, "MAXAGE"))
            {
                if (!long.TryParse(v, out maxAge)) { ctx.Error(Errors.NotInteger); return; }
            }
            else { ctx.SyntaxError(); return; }
        }
        long now = KvServer.UnixMs();
        int killed = 0;
        bool closeSelf = false;
        foreach (var c in server.Clients.Values.ToArray())
        {
            if (id is not null && c.Id != id) continue;
            if (addrF is not null && (c.Address is null || $"{c.Address.Address}:{c.Address.Port}" != addrF)) continue;
            if (laddrF is not null && (c.LocalAddress is null || $"{c.LocalAddress.Address}:{c.LocalAddress.Port}" != laddrF)) continue;
            if (typeF is not null && TypeOf(c) != typeF) continue;
            if (maxAge > 0 && (now - c.CreatedMs) / 1000 < maxAge) continue;
            if (c == ctx.Client && skipme) continue;
            if (c == ctx.Client) closeSelf = true;
            else c.Close("CLIENT KILL");
            killed++;
        }
        ctx.Reply.Integer(killed);
        if (closeSelf) ctx.Client.CloseAfterReply();
    }

    private static void OnOff(CommandContext ctx)
    {
        if (ctx.ArgIs(2, "on") || ctx.ArgIs(2, "off")) ctx.Reply.Ok();
        else ctx.SyntaxError();
    }

    private static void ClientReply(CommandContext ctx)
    {
        if (ctx.ArgIs(2, "on"))
        {
            ctx.Client.SuppressReplies = false;
            ctx.Reply.Ok();
        }
        else if (ctx.ArgIs(2, "off") || ctx.ArgIs(2, "skip"))
        {
            ctx.Client.SuppressReplies = ctx.ArgIs(2, "off");
        }
        else ctx.SyntaxError();
    }
}

/// <summary>Version strings reported to clients.</summary>
public static class KvVersion
{
    /// <summary>The redis version we are compatible with and report (HELLO, INFO redis_version, RDB aux).</summary>
    public const string RedisVersion = "7.0.15";
}
