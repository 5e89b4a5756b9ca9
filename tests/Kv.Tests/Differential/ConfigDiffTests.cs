using Kv.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Kv.Tests.Differential;

/// <summary>CONFIG GET/SET/RESETSTAT on the supported settings, compared with redis.</summary>
public class ConfigDiffTests(ServerPairFixture pair, ITestOutputHelper output) : IClassFixture<ServerPairFixture>
{
    private async Task Run(string script)
    {
        await using var d = await DifferentialRunner.StartAsync(pair, output);
        await d.RunAsync(script);
    }

    [Fact]
    public Task GetSet() => Run("""
        CONFIG GET maxclients
        CONFIG GET timeout
        CONFIG GET databases
        CONFIG GET requirepass
        CONFIG GET dbfilename
        CONFIG GET proto-max-bulk-len
        CONFIG GET client-query-buffer-limit
        CONFIG GET loglevel
        CONFIG GET hz
        CONFIG GET save
        CONFIG GET appendonly
        CONFIG GET bind
        CONFIG GET nosuchparam
        !sortpairs CONFIG GET maxclients timeout
        !sortpairs CONFIG GET max*
        !sortpairs CONFIG GET *max-listpack*
        !sortpairs CONFIG GET repl-*
        !sortpairs CONFIG GET slave-*
        !sortpairs CONFIG GET *ziplist*
        CONFIG GET
        CONFIG SET timeout 100
        CONFIG GET timeout
        CONFIG SET timeout -1
        CONFIG SET timeout abc
        CONFIG SET timeout 0
        CONFIG SET maxclients 0
        CONFIG SET loglevel verbose
        CONFIG GET loglevel
        CONFIG SET loglevel shout
        CONFIG SET loglevel notice
        CONFIG SET hz 1000
        CONFIG GET hz
        CONFIG SET hz 10
        CONFIG SET databases 4
        CONFIG SET daemonize yes
        CONFIG SET nosuchparam 1
        CONFIG SET timeout
        CONFIG SET timeout 1 hz
        CONFIG SET timeout 5 hz 20
        CONFIG GET timeout
        CONFIG GET hz
        CONFIG SET timeout 6 timeout 7
        CONFIG SET timeout 0 hz 10
        CONFIG SET proto-max-bulk-len 100
        CONFIG SET proto-max-bulk-len 2mb
        CONFIG GET proto-max-bulk-len
        CONFIG SET proto-max-bulk-len 512mb
        CONFIG SET client-query-buffer-limit 1gb
        CONFIG SET maxmemory 1k
        CONFIG GET maxmemory
        CONFIG SET maxmemory 0
        CONFIG SET appendonly maybe
        CONFIG SET protected-mode no
        CONFIG GET protected-mode
        CONFIG SET save "100 10"
        CONFIG GET save
        CONFIG SET save "100"
        CONFIG SET save "a b"
        CONFIG SET save ""
        CONFIG GET save
        CONFIG SET hash-max-ziplist-entries 64
        CONFIG GET hash-max-listpack-entries
        CONFIG SET hash-max-listpack-entries 128
        CONFIG RESETSTAT
        CONFIG RESETSTAT x
        CONFIG FOO
        CONFIG
        CONFIG SET requirepass ""
        CONFIG SET notify-keyspace-events KEA
        CONFIG GET notify-keyspace-events
        CONFIG SET notify-keyspace-events ""
        """);

    [Fact]
    public async Task ConfigGetAllSameNamesAndValues()
    {
        // Everything but the per-instance settings (port, dir) must match: names, aliases and default values.
        var all = new List<Dictionary<string, string>>();
        foreach (var server in new[] { pair.Redis, pair.Kv })
        {
            using var c = await server.ConnectAsync();
            var reply = await c.CommandAsync("CONFIG", "GET", "*");
            var items = RespFormat.Elements(reply)!.Select(e => RespFormat.Text(e) ?? "").ToList();
            var d = new Dictionary<string, string>();
            for (int i = 0; i < items.Count; i += 2) d[items[i]] = items[i + 1];
            d.Remove("port");
            d.Remove("dir");
            all.Add(d);
        }
        var (redis, kv) = (all[0], all[1]);
        var missing = redis.Keys.Except(kv.Keys).Order().ToList();
        var extra = kv.Keys.Except(redis.Keys).Order().ToList();
        var differ = redis.Keys.Intersect(kv.Keys).Where(k => redis[k] != kv[k]).Order().Select(k => $"{k}: redis '{redis[k]}' kv '{kv[k]}'").ToList();
        Assert.True(missing.Count == 0 && extra.Count == 0 && differ.Count == 0,
            $"missing in kv: {string.Join(", ", missing)}\nonly in kv: {string.Join(", ", extra)}\ndifferent: {string.Join("; ", differ)}");
    }
}
