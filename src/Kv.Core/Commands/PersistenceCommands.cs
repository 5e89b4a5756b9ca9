using Kv.Persistence;
using Kv.Server;

namespace Kv.Commands;

/// <summary>
/// Persistence commands: SAVE BGSAVE LASTSAVE SHUTDOWN, and DEBUG RELOAD / DIGEST / DIGEST-VALUE (rdb.c, server.c,
/// debug.c of redis 7.0.15). The work is done by the <see cref="Persistence.Persistence"/> component.
/// </summary>
[CommandGroup]
internal static class PersistenceCommands
{
    public static void Register(CommandTable t)
    {
        t.Add("save", 1, CommandFlags.Admin | CommandFlags.NoScript | CommandFlags.NoMulti, 0, 0, 0, Save, "server", "admin slow dangerous");
        t.Add("bgsave", -1, CommandFlags.Admin | CommandFlags.NoScript, 0, 0, 0, BgSave, "server", "admin slow dangerous");
        t.Add("lastsave", 1, CommandFlags.Loading | CommandFlags.Stale | CommandFlags.Fast, 0, 0, 0,
            ctx => ctx.Reply.Integer(Persistence.Persistence.For(ctx.Server).LastSaveUnix), "server", "admin fast dangerous");
        t.Add("shutdown", -1, CommandFlags.Admin | CommandFlags.NoScript | CommandFlags.Loading | CommandFlags.Stale | CommandFlags.NoMulti | CommandFlags.AllowBusy,
            0, 0, 0, Shutdown, "server", "admin slow dangerous");

        var debug = t.Container("debug", CommandFlags.Protected);
        const CommandFlags df = CommandFlags.Admin | CommandFlags.NoScript | CommandFlags.Loading | CommandFlags.Stale | CommandFlags.Protected;
        debug.Sub(CommandTable.SubDef("reload", -2, df, DebugReload));
        debug.Sub(CommandTable.SubDef("digest", -2, df, DebugDigest));
        debug.Sub(CommandTable.SubDef("digest-value", -2, df, DebugDigestValue));
    }

    private static void Save(CommandContext ctx)
    {
        var p = Persistence.Persistence.For(ctx.Server);
        if (p.BgsaveInProgress)
        {
            ctx.Error("ERR Background save already in progress");
            return;
        }
        if (p.SaveSync()) ctx.Reply.Ok();
        else ctx.Error("ERR");
    }

    private static void BgSave(CommandContext ctx)
    {
        bool schedule = false;
        if (ctx.Argc > 1)
        {
            if (ctx.Argc == 2 && ctx.ArgIs(1, "schedule")) schedule = true;
            else
            {
                ctx.SyntaxError();
                return;
            }
        }
        var p = Persistence.Persistence.For(ctx.Server);
        _ = schedule; // SCHEDULE only matters while another (non-RDB) child runs; we have none.
        if (p.BgsaveInProgress)
        {
            // redis answers this even with SCHEDULE when the running child is an RDB save.
            ctx.Error("ERR Background save already in progress");
            return;
        }
        if (ctx.InExec)
        {
            // bgsaveCommand: inside MULTI/EXEC the save is deferred to the cron.
            p.BgsaveScheduled = true;
            ctx.Reply.Simple("Background saving scheduled");
            return;
        }
        var err = p.StartBackgroundSave();
        if (err is null) ctx.Reply.Simple("Background saving started");
        else ctx.Error(err.StartsWith("ERR", StringComparison.Ordinal) ? err : "ERR " + err);
    }

    private static void Shutdown(CommandContext ctx)
    {
        bool nosave = false, save = false, abort = false, force = false, now = false;
        for (int i = 1; i < ctx.Argc; i++)
        {
            if (ctx.ArgIs(i, "nosave")) nosave = true;
            else if (ctx.ArgIs(i, "save")) save = true;
            else if (ctx.ArgIs(i, "now")) now = true;
            else if (ctx.ArgIs(i, "force")) force = true;
            else if (ctx.ArgIs(i, "abort")) abort = true;
            else
            {
                ctx.SyntaxError();
                return;
            }
        }
        if ((abort && (nosave || save || force || now)) || (nosave && save))
        {
            ctx.SyntaxError();
            return;
        }
        if (abort)
        {
            // We never wait for lagging replicas, so there is never a shutdown in progress to abort.
            ctx.Error("ERR No shutdown in progress.");
            return;
        }
        var p = Persistence.Persistence.For(ctx.Server);
        ctx.Server.Log.LogWarningText("User requested shutdown...");
        var err = p.PrepareShutdown(nosave ? false : save ? true : null, force);
        if (err is not null)
        {
            ctx.Error(err);
            return;
        }
        ctx.Server.ShutdownRequested.TrySetResult();
    }

    private static void DebugReload(CommandContext ctx)
    {
        bool flush = true, save = true, merge = false;
        for (int j = 2; j < ctx.Argc; j++)
        {
            if (ctx.ArgIs(j, "MERGE")) merge = true;
            else if (ctx.ArgIs(j, "NOFLUSH")) flush = false;
            else if (ctx.ArgIs(j, "NOSAVE")) save = false;
            else
            {
                ctx.Error("ERR DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE options.");
                return;
            }
        }
        var p = Persistence.Persistence.For(ctx.Server);
        if (save && !p.SaveSync())
        {
            ctx.Error("ERR");
            return;
        }
        try
        {
            p.Reload(flush, merge);
        }
        catch (RdbLoadException e)
        {
            ctx.Server.Log.LogWarningText(e.Message);
            ctx.Error("ERR Error trying to load the RDB dump, check server logs.");
            return;
        }
        ctx.Server.Log.LogWarningText("DB reloaded by DEBUG RELOAD");
        ctx.Reply.Ok();
    }

    private static void DebugDigest(CommandContext ctx)
    {
        if (ctx.Argc != 2)
        {
            ctx.Error("ERR unknown subcommand or wrong number of arguments for 'digest'. Try DEBUG HELP.");
            return;
        }
        ctx.Reply.Simple(DatasetDigest.OfDataset(ctx.Server.Databases));
    }

    private static void DebugDigestValue(CommandContext ctx)
    {
        ctx.Reply.ArrayHeader(ctx.Argc - 2);
        for (int j = 2; j < ctx.Argc; j++) ctx.Reply.Simple(DatasetDigest.OfKey(ctx.Db, ctx.Arg(j)));
    }
}

/// <summary>Logging shorthands for command handlers.</summary>
internal static class PersistenceLogExtensions
{
    public static void LogWarningText(this Microsoft.Extensions.Logging.ILogger log, string text) =>
        Microsoft.Extensions.Logging.LoggerExtensions.LogWarning(log, "{Text}", text);
}
