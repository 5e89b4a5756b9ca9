using System.Text;
using System.Text.RegularExpressions;
using Kv.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Kv.Tests.Differential;

/// <summary>Server introspection: INFO field names, COMMAND INFO, CLIENT LIST fields, MONITOR lines, TIME.</summary>
public class ServerDiffTests(ServerPairFixture pair, ITestOutputHelper output) : IClassFixture<ServerPairFixture>
{
    private async Task Run(string script)
    {
        await using var d = await DifferentialRunner.StartAsync(pair, output);
        await d.RunAsync(script);
    }

    [Fact]
    public Task Misc() => Run("""
        !type TIME
        !type LASTSAVE
        TIME x
        DBSIZE
        SET a 1
        DBSIZE
        INFO nosuchsection
        INFO keyspace
        SELECT 3
        SET b 2 EX 1000
        # avg_ttl comes from the active-expire sampling: timing dependent
        !type INFO keyspace
        SELECT 0
        !type COMMAND INFO get
        !type COMMAND INFO set
        COMMAND INFO nosuchcommand
        !type COMMAND INFO get nosuch mget
        !type COMMAND INFO incrbyfloat getex
        COMMAND INFO config|get
        COMMAND INFO config|help command|count command|getkeys config|rewrite
        !type COMMAND DOCS get
        !type COMMAND COUNT
        COMMAND GETKEYS set k v
        COMMAND GETKEYS mset a 1 b 2
        COMMAND GETKEYS get
        COMMAND GETKEYS nosuch k
        COMMAND NOSUCH
        FLUSHDB ASYNC
        FLUSHDB SYNC
        FLUSHDB FOO
        FLUSHALL ASYNC extra
        """);

    // INFO field names and order per section: InfoFieldsDiffTests.SectionFieldNamesAndOrderEqualRedis.

    [Fact]
    public async Task ClientListFieldNames()
    {
        var lines = new List<string>();
        foreach (var s in new[] { pair.Redis, pair.Kv })
        {
            using var c = await s.ConnectAsync();
            var text = RespFormat.Text(await c.CommandAsync("CLIENT", "INFO"))!.Trim();
            lines.Add(string.Join(' ', text.Split(' ').Select(f => f.Split('=')[0])));
        }
        Assert.Equal(lines[0], lines[1]);
    }

    [Fact]
    public async Task ClientInfoShowsTheCurrentCommand()
    {
        var got = new List<string>();
        foreach (var s in new[] { pair.Redis, pair.Kv })
        {
            using var c = await s.ConnectAsync();
            await c.CommandAsync("GET", "x");
            var info = RespFormat.Text(await c.CommandAsync("CLIENT", "INFO"))!;
            var list = RespFormat.Text(await c.CommandAsync("CLIENT", "LIST", "ID", RespFormat.Integer(await c.CommandAsync("CLIENT", "ID"))!.Value.ToString(System.Globalization.CultureInfo.InvariantCulture)))!;
            got.Add(Regex.Match(info, @"cmd=\S+").Value + " / " + Regex.Match(list, @"cmd=\S+").Value);
        }
        output.WriteLine(got[0]);
        Assert.Equal(got[0], got[1]);
    }

    [Fact]
    public async Task MonitorLines()
    {
        var got = new List<string>();
        foreach (var s in new[] { pair.Redis, pair.Kv })
        {
            using var mon = await s.ConnectAsync();
            Assert.Equal("+OK\r\n", Encoding.ASCII.GetString(await mon.CommandAsync("MONITOR")));
            using var c = await s.ConnectAsync();
            await c.CommandAsync("SET", "mon", "a \"quoted\"\n\x01 value");
            await c.CommandAsync("CONFIG", "GET", "maxmemory"); // admin commands are not shown
            await c.CommandAsync("GET", "mon");
            await c.SendRawAsync("ECHO inline\r\n"u8.ToArray());
            await c.ReadReplyAsync();
            var sb = new StringBuilder();
            for (int i = 0; i < 3; i++)
            {
                var line = Encoding.Latin1.GetString(await mon.ReadReplyAsync());
                // "+1700000000.123456 [0 127.0.0.1:54321] ..." -> drop the time and the client port
                sb.Append(Regex.Replace(line, @"^\+\d+\.\d{6} \[(\d+) [\d.]+:\d+\]", "+T [$1 addr]"));
            }
            got.Add(sb.ToString());
        }
        Assert.Equal(got[0], got[1]);
    }
}
