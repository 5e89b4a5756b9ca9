using System.Globalization;
using Kv.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Kv.Tests.Clients;

/// <summary>redis-benchmark smoke run against kv-server: completes, every test reports a rate, no error lines.</summary>
public class RedisBenchmarkSmokeTests(ITestOutputHelper output) : IAsyncLifetime
{
    private ServerProcess _kv = null!;

    public async Task InitializeAsync() => _kv = await ServerProcess.StartKvAsync();

    public async Task DisposeAsync() => await _kv.DisposeAsync();

    [Theory]
    [InlineData("1")]
    [InlineData("16")]
    public async Task CompletesWithoutErrors(string pipeline)
    {
        const string tests = "ping,set,get,incr,lpush,rpush,lpop,rpop,sadd,hset,spop,zadd,zpopmin,lrange,mset";
        var (code, stdout, stderr) = await ToolRunner.RunAsync(ServerPaths.RedisBenchmark,
            ["-p", _kv.Port.ToString(CultureInfo.InvariantCulture), "-n", "2000", "-c", "10", "-P", pipeline, "-t", tests, "--csv"],
            timeout: TimeSpan.FromSeconds(120));
        output.WriteLine(stdout);
        output.WriteLine(stderr);
        Assert.Equal(0, code);
        Assert.DoesNotContain("ERR", stdout + stderr);
        Assert.DoesNotContain("rror", stderr);
        var rows = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Skip(1).ToList(); // header line first
        Assert.True(rows.Count >= 15, $"expected a CSV row per test, got:\n{stdout}");
        foreach (var row in rows)
        {
            var rps = double.Parse(row.Split(',')[1].Trim('"'), CultureInfo.InvariantCulture);
            Assert.True(rps > 0, row);
        }
        Assert.False(_kv.HasExited, _kv.LogTail());
    }
}
