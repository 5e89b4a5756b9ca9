using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using Kv.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Kv.Tests.Replication;

/// <summary>
/// Helpers for replication interop tests: starting real redis-server 7.0.15 and kv-server nodes on free loopback
/// ports, INFO field access, waiting for conditions, whole-keyspace dumps (every db, type, value, absolute expire
/// time) and a background writer. Every started process is killed on dispose.
/// </summary>
public sealed class ReplEnv : IAsyncDisposable
{
    private readonly List<ServerProcess> _nodes = [];
    private readonly ITestOutputHelper? _out;

    public ReplEnv(ITestOutputHelper? output = null) => _out = output;

    /// <summary>Starts redis-server with fast full syncs (repl-diskless-sync-delay 0).</summary>
    public async Task<ServerProcess> RedisAsync(params string[] args)
    {
        var all = new List<string> { "--repl-diskless-sync-delay", "0" };
        all.AddRange(args);
        var s = await ServerProcess.StartRedisAsync(all.ToArray());
        _nodes.Add(s);
        return s;
    }

    /// <summary>Starts kv-server with fast full syncs (repl-diskless-sync-delay 0).</summary>
    public async Task<ServerProcess> KvAsync(params string[] args)
    {
        var all = new List<string> { "--repl-diskless-sync-delay", "0" };
        all.AddRange(args);
        var s = await ServerProcess.StartKvAsync(all.ToArray());
        _nodes.Add(s);
        return s;
    }

    /// <summary>Starts a node with exact options (restarts in a given dir).</summary>
    public async Task<ServerProcess> StartAsync(ServerKind kind, ServerStartOptions o)
    {
        var s = await ServerProcess.StartAsync(kind, o);
        _nodes.Add(s);
        return s;
    }

    public static async Task<byte[]> CmdAsync(ServerProcess s, params string[] args)
    {
        using var c = await s.ConnectAsync();
        return await c.CommandAsync(args);
    }

    public static async Task<string> TextAsync(ServerProcess s, params string[] args)
        => RespFormat.Text(await CmdAsync(s, args)) ?? RespFormat.Escape(await CmdAsync(s, args));

    public static async Task<Dictionary<string, string>> InfoAsync(ServerProcess s, string section)
    {
        var text = RespFormat.Text(await CmdAsync(s, "INFO", section)) ?? "";
        var d = new Dictionary<string, string>();
        foreach (var line in text.Split("\r\n"))
        {
            int i = line.IndexOf(':');
            if (i > 0 && !line.StartsWith('#')) d[line[..i]] = line[(i + 1)..];
        }
        return d;
    }

    public static async Task<long> InfoLongAsync(ServerProcess s, string section, string field)
        => long.Parse((await InfoAsync(s, section))[field], CultureInfo.InvariantCulture);

    /// <summary>Polls <paramref name="cond"/> until true or throws with <paramref name="what"/> and the logs.</summary>
    public async Task WaitAsync(Func<Task<bool>> cond, string what, int timeoutMs = 20000)
    {
        var sw = Stopwatch.StartNew();
        while (sw.ElapsedMilliseconds < timeoutMs)
        {
            try { if (await cond()) return; }
            catch (Exception e) when (e is IOException or TimeoutException or System.Net.Sockets.SocketException or KeyNotFoundException) { }
            await Task.Delay(100);
        }
        var logs = string.Join("\n---\n", _nodes.Select(n => n.Name + ":\n" + n.LogTail(25)));
        throw new TimeoutException($"timed out waiting for {what}\n{logs}");
    }

    public Task WaitLinkUpAsync(ServerProcess replica) => WaitAsync(async () =>
        (await InfoAsync(replica, "replication")).GetValueOrDefault("master_link_status") == "up", $"{replica.Name} link up");

    /// <summary>Waits until the replica has applied everything the master has (offsets equal).</summary>
    public Task WaitInSyncAsync(ServerProcess master, ServerProcess replica) => WaitAsync(async () =>
    {
        var m = await InfoAsync(master, "replication");
        var r = await InfoAsync(replica, "replication");
        // In sync, and listed as online by the master (after an EOF-framed transfer redis marks it online only at
        // its first ACK; FAILOVER TO and WAIT look at that state).
        string port = $"port={replica.Port},";
        return r.GetValueOrDefault("master_link_status") == "up" && m["master_repl_offset"] == r["slave_repl_offset"]
            && m.Any(kv => kv.Key.StartsWith("slave", StringComparison.Ordinal) && kv.Value.Contains(port, StringComparison.Ordinal) && kv.Value.Contains("state=online", StringComparison.Ordinal));
    }, $"{replica.Name} in sync with {master.Name}");

    /// <summary>Every key of every db with its type, value and absolute expire time (PEXPIRETIME).</summary>
    public static async Task<SortedDictionary<string, string>> DumpAsync(ServerProcess s, int dbs = 16)
    {
        var result = new SortedDictionary<string, string>(StringComparer.Ordinal);
        using var c = await s.ConnectAsync();
        for (int db = 0; db < dbs; db++)
        {
            await c.CommandAsync("SELECT", db.ToString(CultureInfo.InvariantCulture));
            var keys = RespFormat.Elements(await c.CommandAsync("KEYS", "*")) ?? [];
            foreach (var kb in keys)
            {
                var k = RespFormat.Text(kb)!;
                var type = RespFormat.Text(await c.CommandAsync("TYPE", k)) ?? "?";
                string value = type switch
                {
                    "string" => RespFormat.Escape(await c.CommandAsync("GET", k)),
                    "list" => RespFormat.Escape(await c.CommandAsync("LRANGE", k, "0", "-1")),
                    "hash" => Sorted(await c.CommandAsync("HGETALL", k), pairs: true),
                    "set" => Sorted(await c.CommandAsync("SMEMBERS", k), pairs: false),
                    "zset" => RespFormat.Escape(await c.CommandAsync("ZRANGE", k, "0", "-1", "WITHSCORES")),
                    _ => type,
                };
                var exp = RespFormat.Integer(await c.CommandAsync("PEXPIRETIME", k));
                result[$"{db}:{k}"] = $"{type} {value} exp={exp}";
            }
        }
        return result;
    }

    private static string Sorted(byte[] reply, bool pairs)
    {
        var el = RespFormat.Elements(reply) ?? [];
        var items = new List<string>();
        for (int i = 0; i < el.Count; i += pairs ? 2 : 1)
            items.Add(pairs ? RespFormat.Text(el[i]) + "=" + RespFormat.Text(el[i + 1]) : RespFormat.Text(el[i])!);
        items.Sort(StringComparer.Ordinal);
        return string.Join(",", items);
    }

    /// <summary>Asserts two nodes hold the same keyspace.</summary>
    public async Task AssertSameDataAsync(ServerProcess a, ServerProcess b)
    {
        var da = await DumpAsync(a);
        var db = await DumpAsync(b);
        if (da.Count != db.Count || !da.SequenceEqual(db))
        {
            var diff = new StringBuilder();
            foreach (var k in da.Keys.Union(db.Keys).Order(StringComparer.Ordinal))
            {
                da.TryGetValue(k, out var va);
                db.TryGetValue(k, out var vb);
                if (va != vb) diff.Append(k).Append(": ").Append(a.Name).Append('=').Append(va).Append(" | ").Append(b.Name).Append('=').Append(vb).Append('\n');
                if (diff.Length > 3000) break;
            }
            throw new Xunit.Sdk.XunitException($"keyspaces differ ({da.Count} vs {db.Count} keys):\n{diff}\n{a.Name} log:\n{a.LogTail(20)}\n{b.Name} log:\n{b.LogTail(20)}");
        }
        _out?.WriteLine($"{a.Name} and {b.Name}: {da.Count} keys identical");
        if (da.Count == 0) throw new Xunit.Sdk.XunitException("empty keyspaces: nothing was compared");
    }

    /// <summary>Writes a mixed data set (all types, several dbs, TTLs) on <paramref name="s"/>.</summary>
    public static async Task PopulateAsync(ServerProcess s, string prefix, int n = 200)
    {
        using var c = await s.ConnectAsync();
        var sb = new List<byte[]>();
        for (int db = 0; db < 3; db++)
        {
            await c.CommandAsync("SELECT", (db * 3).ToString(CultureInfo.InvariantCulture));
            for (int i = 0; i < n; i++)
            {
                string k = $"{prefix}:{i}";
                switch (i % 6)
                {
                    case 0: await c.CommandAsync("SET", k, "v" + i); break;
                    case 1: await c.CommandAsync("RPUSH", k + ":l", "a", "b", i.ToString(CultureInfo.InvariantCulture)); break;
                    case 2: await c.CommandAsync("HSET", k + ":h", "f", "x", "g", i.ToString(CultureInfo.InvariantCulture)); break;
                    case 3: await c.CommandAsync("SADD", k + ":s", "1", "2", "m" + i); break;
                    case 4: await c.CommandAsync("ZADD", k + ":z", "1.5", "a", i.ToString(CultureInfo.InvariantCulture), "b"); break;
                    default: await c.CommandAsync("SET", k + ":t", new string('x', 50 + i), "EX", "1000"); break;
                }
            }
        }
    }

    /// <summary>Runs a writer (INCR, SET, RPUSH, MULTI/EXEC across dbs) until cancelled; returns commands sent.</summary>
    public static Task<long> WriterAsync(ServerProcess s, string prefix, CancellationToken ct) => Task.Run(async () =>
    {
        long n = 0;
        using var c = await s.ConnectAsync();
        try
        {
            while (!ct.IsCancellationRequested)
            {
                string db = (n % 3).ToString(CultureInfo.InvariantCulture);
                await c.CommandAsync("SELECT", db);
                await c.CommandAsync("INCR", prefix + ":counter");
                await c.CommandAsync("SET", $"{prefix}:k{n % 500}", "val" + n);
                await c.CommandAsync("RPUSH", prefix + ":list", n.ToString(CultureInfo.InvariantCulture));
                if (n % 10 == 0)
                {
                    await c.CommandAsync("MULTI");
                    await c.CommandAsync("INCR", prefix + ":tx");
                    await c.CommandAsync("SELECT", "5");
                    await c.CommandAsync("HSET", prefix + ":h", "f" + (n % 50), "v" + n);
                    await c.CommandAsync("EXEC");
                }
                n++;
            }
        }
        catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException or TimeoutException) { }
        return n;
    });

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int SysKill(int pid, int sig);

    /// <summary>SIGSTOP (pause) a node.</summary>
    public static void Pause(ServerProcess s) => SysKill(s.Process.Id, 19);

    /// <summary>SIGCONT (resume) a node.</summary>
    public static void Resume(ServerProcess s) => SysKill(s.Process.Id, 18);

    public async ValueTask DisposeAsync()
    {
        foreach (var n in _nodes)
        {
            try { Resume(n); } catch (Exception) { }
            await n.DisposeAsync();
        }
    }
}
