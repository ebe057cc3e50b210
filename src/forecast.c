/*-------------------------------------------------------------------------
 *
 * forecast.c
 *	  Forecasting a revenue series: additive Holt-Winters fitted by least
 *	  squares, Holt's linear trend or the mean for short histories, with
 *	  prediction intervals and a backtest error (MAPE).
 *
 * billy._forecast(history numeric[], season integer, horizon integer)
 * returns one row per future period: the point forecast, 80% and 95%
 * intervals, and the model that made them (method, smoothing parameters,
 * the one-step residual standard deviation, and the MAPE of a backtest).
 *
 * Amounts come in as exact numerics and are read as integer øre; the
 * model's level, trend and season are estimates, kept in double precision,
 * and the forecasts are rounded to øre on the way out.  Nothing here is an
 * amount that is booked or added up: money stays exact everywhere else.
 *
 * Models, chosen by the length n of the history and the season length m:
 *
 *	  n >= 2m and m >= 2   additive Holt-Winters (level, trend, season);
 *	  n >= 3               Holt's linear trend (level, trend);
 *	  n >= 1               the mean of the history.
 *
 * Holt-Winters starts from the first two seasons (trend: the difference of
 * the two seasons' means over m; level: the first season's mean carried to
 * its end along the trend; season: the first season's deviations from that
 * trend line, so a series that is exactly trend plus season is fitted
 * exactly) and runs the recursions
 *
 *	  yhat(t) = L + T + S(t-m)
 *	  L' = alpha (y - S(t-m)) + (1 - alpha) (L + T)
 *	  T' = beta (L' - L) + (1 - beta) T
 *	  S(t) = gamma (y - L') + (1 - gamma) S(t-m)
 *
 * from the second season on.  alpha, beta and gamma minimize the sum of the
 * squared one-step errors: a grid over [0, 1]^3, then a pattern search that
 * halves its step around the best point (deterministic, no random starts).
 * The h-step variance is sigma^2 (1 + sum_{j<h} c_j^2) with
 * c_j = alpha (1 + j beta) + gamma (1 - alpha) [j mod m = 0] (the ETS(A,A,A)
 * result; Hyndman et al., Forecasting with Exponential Smoothing, 2008,
 * table 6.1), Holt's is the same without the season, the mean's
 * sigma^2 (1 + 1/n).
 *
 * The backtest holds out the last k = min(horizon, max(1, n / 4)) periods,
 * fits the model the remaining history supports, forecasts them, and
 * reports the mean absolute percentage error over the held-out periods
 * whose actual value is not zero.
 *
 *-------------------------------------------------------------------------
 */
#include "billy.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/numeric.h"
#include "utils/tuplestore.h"

PG_FUNCTION_INFO_V1(billy_forecast);

#define MAX_HISTORY 100000
#define MAX_HORIZON 1000
#define Z80 1.2815515655446004
#define Z95 1.959963984540054

typedef enum ForecastMethod
{
	METHOD_MEAN,
	METHOD_HOLT,
	METHOD_HOLT_WINTERS
} ForecastMethod;

static const char *const method_names[] = {"mean", "holt", "holt_winters"};

typedef struct ForecastModel
{
	ForecastMethod method;
	int			m;				/* season length (Holt-Winters) */
	double		alpha;
	double		beta;
	double		gamma;
	double		sse;			/* of the one-step errors */
	int			nerrors;		/* how many one-step errors */
	double		level;			/* state after the last observation */
	double		trend;
	double	   *season;			/* m values: season[i] is for t = n - m + i */
} ForecastModel;

/*
 * hw_run runs Holt-Winters over y[0..n) with the given parameters, returning
 * the sum of squared one-step errors; with a model, leaves the final state in
 * it.
 */
static double
hw_run(const double *y, int n, int m, double alpha, double beta, double gamma,
	   ForecastModel *model)
{
	double		level = 0;
	double		prev;
	double		trend = 0;
	double	   *s = palloc(sizeof(double) * n);
	double		sse = 0;

	for (int i = 0; i < m; i++)
		level += y[i];
	level /= m;
	for (int i = m; i < 2 * m; i++)
		trend += y[i];
	trend = (trend / m - level) / m;
	/* the first season's deviations from its trend line */
	for (int i = 0; i < m; i++)
		s[i] = y[i] - (level + trend * (i - (m - 1) / 2.0));
	/* the level at the end of the first season */
	level += trend * (m - 1) / 2.0;
	for (int t = m; t < n; t++)
	{
		double		yhat = level + trend + s[t - m];
		double		e = y[t] - yhat;

		sse += e * e;
		prev = level;
		level = alpha * (y[t] - s[t - m]) + (1 - alpha) * (level + trend);
		trend = beta * (level - prev) + (1 - beta) * trend;
		s[t] = gamma * (y[t] - level) + (1 - gamma) * s[t - m];
	}
	if (model)
	{
		model->level = level;
		model->trend = trend;
		model->season = palloc(sizeof(double) * m);
		for (int i = 0; i < m; i++)
			model->season[i] = s[n - m + i];
		model->sse = sse;
		model->nerrors = n - m;
	}
	pfree(s);
	return sse;
}

/* holt_run is hw_run for Holt's linear trend (no season) */
static double
holt_run(const double *y, int n, double alpha, double beta, ForecastModel *model)
{
	double		level = y[1];
	double		trend = y[1] - y[0];
	double		prev;
	double		sse = 0;

	for (int t = 2; t < n; t++)
	{
		double		e = y[t] - (level + trend);

		sse += e * e;
		prev = level;
		level = alpha * y[t] + (1 - alpha) * (level + trend);
		trend = beta * (level - prev) + (1 - beta) * trend;
	}
	if (model)
	{
		model->level = level;
		model->trend = trend;
		model->sse = sse;
		model->nerrors = n - 2;
	}
	return sse;
}

/* sse_at evaluates the sum of squared errors of a parameter vector */
static double
sse_at(ForecastMethod method, const double *y, int n, int m, const double *p)
{
	if (method == METHOD_HOLT_WINTERS)
		return hw_run(y, n, m, p[0], p[1], p[2], NULL);
	return holt_run(y, n, p[0], p[1], NULL);
}

/*
 * fit_parameters finds the smoothing parameters (2 for Holt, 3 for
 * Holt-Winters) in [0, 1] that minimize the one-step squared errors.
 */
static void
fit_parameters(ForecastMethod method, const double *y, int n, int m, double *best)
{
	int			dims = method == METHOD_HOLT_WINTERS ? 3 : 2;
	const int	steps = 10;
	double		best_sse = INFINITY;
	double		p[3] = {0, 0, 0};
	double		step;

	/* a grid of 11 points per parameter */
	for (int a = 0; a <= steps; a++)
		for (int b = 0; b <= steps; b++)
			for (int g = 0; g <= (dims == 3 ? steps : 0); g++)
			{
				double		sse;

				p[0] = (double) a / steps;
				p[1] = (double) b / steps;
				p[2] = (double) g / steps;
				sse = sse_at(method, y, n, m, p);
				if (sse < best_sse)
				{
					best_sse = sse;
					memcpy(best, p, sizeof(p));
				}
			}

	/* pattern search around the best grid point, halving the step */
	for (step = 0.05; step > 1e-4; step /= 2)
	{
		bool		improved = true;

		while (improved)
		{
			improved = false;
			for (int d = 0; d < dims; d++)
				for (int dir = -1; dir <= 1; dir += 2)
				{
					double		q[3];
					double		sse;

					memcpy(q, best, sizeof(q));
					q[d] = Min(1.0, Max(0.0, q[d] + dir * step));
					if (q[d] == best[d])
						continue;
					sse = sse_at(method, y, n, m, q);
					if (sse < best_sse - 1e-9 * fabs(best_sse))
					{
						best_sse = sse;
						memcpy(best, q, sizeof(q));
						improved = true;
					}
				}
		}
	}
}

/* fit chooses the model the history supports and fits it */
static ForecastModel
fit(const double *y, int n, int m)
{
	ForecastModel model;

	memset(&model, 0, sizeof(model));
	model.m = m;
	model.alpha = model.beta = model.gamma = NAN;
	if (m >= 2 && n >= 2 * m)
	{
		double		p[3];

		model.method = METHOD_HOLT_WINTERS;
		fit_parameters(model.method, y, n, m, p);
		model.alpha = p[0];
		model.beta = p[1];
		model.gamma = p[2];
		hw_run(y, n, m, p[0], p[1], p[2], &model);
	}
	else if (n >= 3)
	{
		double		p[3];

		model.method = METHOD_HOLT;
		fit_parameters(model.method, y, n, m, p);
		model.alpha = p[0];
		model.beta = p[1];
		holt_run(y, n, p[0], p[1], &model);
	}
	else
	{
		double		mean = 0;

		model.method = METHOD_MEAN;
		for (int i = 0; i < n; i++)
			mean += y[i];
		mean /= n;
		model.level = mean;
		for (int i = 0; i < n; i++)
			model.sse += (y[i] - mean) * (y[i] - mean);
		model.nerrors = n - 1;
	}
	return model;
}

/* point forecast h periods (1-based) after the history of length n */
static double
point(const ForecastModel *model, int h)
{
	switch (model->method)
	{
		case METHOD_HOLT_WINTERS:
			return model->level + h * model->trend + model->season[(h - 1) % model->m];
		case METHOD_HOLT:
			return model->level + h * model->trend;
		default:
			return model->level;
	}
}

/* sigma is the standard deviation of the one-step errors (NaN: unknown) */
static double
sigma(const ForecastModel *model)
{
	if (model->nerrors < 1)
		return NAN;
	return sqrt(model->sse / model->nerrors);
}

/* variance_factor: the h-step error variance over sigma^2 */
static double
variance_factor(const ForecastModel *model, int h, int n)
{
	double		v = 1;

	if (model->method == METHOD_MEAN)
		return 1 + 1.0 / n;
	for (int j = 1; j < h; j++)
	{
		double		c = model->alpha * (1 + j * model->beta);

		if (model->method == METHOD_HOLT_WINTERS && j % model->m == 0)
			c += model->gamma * (1 - model->alpha);
		v += c * c;
	}
	return v;
}

/* ore_numeric converts a double number of øre to a numeric of kroner */
static Datum
ore_numeric(double ore)
{
	char		buf[64];
	double		r = round(ore);
	double		mag = fabs(r);

	if (!isfinite(r) || mag > 9e17)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("forecast is out of range"),
				 errdetail("The model produced %g øre.", ore)));
	snprintf(buf, sizeof(buf), "%s" INT64_FORMAT ".%02d", r < 0 ? "-" : "",
			 (int64) (mag / 100), (int) fmod(mag, 100));
	return DirectFunctionCall3(numeric_in, CStringGetDatum(buf),
							   ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1));
}

/* round4 rounds a smoothing parameter to four decimals, for reading */
static double
round4(double v)
{
	return round(v * 10000) / 10000;
}

/* percent_numeric rounds a percentage to two decimals */
static Datum
percent_numeric(double v)
{
	char		buf[64];

	snprintf(buf, sizeof(buf), "%.2f", v);
	return DirectFunctionCall3(numeric_in, CStringGetDatum(buf),
							   ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1));
}

/*
 * backtest returns the MAPE (percent) of forecasting the last k periods
 * from the ones before, or NaN when no held-out period has a non-zero
 * actual; *k_out says how many periods were held out (0: none).
 */
static double
backtest(const double *y, int n, int m, int horizon, int *k_out)
{
	int			k = Min(horizon, Max(1, n / 4));
	ForecastModel model;
	double		sum = 0;
	int			count = 0;

	*k_out = 0;
	if (n - k < 1)
		return NAN;
	model = fit(y, n - k, m);
	for (int h = 1; h <= k; h++)
	{
		double		actual = y[n - k + h - 1];

		if (actual == 0)
			continue;
		sum += fabs((actual - point(&model, h)) / actual);
		count++;
	}
	*k_out = k;
	return count > 0 ? 100.0 * sum / count : NAN;
}

/*
 * billy_forecast: billy._forecast(history numeric[], season integer,
 * horizon integer) RETURNS TABLE (step, forecast, lower_80, upper_80,
 * lower_95, upper_95, method, alpha, beta, gamma, sigma, mape,
 * backtest_periods).
 */
Datum
billy_forecast(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	ArrayType  *arr;
	int			m;
	int			horizon;
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	double	   *y;
	ForecastModel model;
	double		sd;
	double		mape;
	int			k;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("history, season and horizon must not be NULL")));
	arr = PG_GETARG_ARRAYTYPE_P(0);
	m = PG_GETARG_INT32(1);
	horizon = PG_GETARG_INT32(2);
	if (horizon < 1 || horizon > MAX_HORIZON)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("horizon must be between 1 and %d, not %d", MAX_HORIZON, horizon)));
	if (m < 1 || m > 366)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("season must be between 1 and 366, not %d", m)));
	if (ARR_ELEMTYPE(arr) != NUMERICOID)
		elog(ERROR, "billy: _forecast needs a numeric[] history");
	deconstruct_array(arr, NUMERICOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
	if (n < 1)
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("history is empty: nothing to forecast from")));
	if (n > MAX_HISTORY)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("history has %d periods, more than %d", n, MAX_HISTORY)));
	y = palloc(sizeof(double) * n);
	for (int i = 0; i < n; i++)
	{
		Datum		ore;

		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("history element %d is NULL", i + 1),
					 errhint("Use 0 for a period without revenue.")));
		ore = DirectFunctionCall2(numeric_mul, elems[i],
								  DirectFunctionCall1(int4_numeric, Int32GetDatum(100)));
		y[i] = (double) DatumGetInt64(DirectFunctionCall1(numeric_int8, ore));
	}

	model = fit(y, n, m);
	sd = sigma(&model);
	mape = backtest(y, n, m, horizon, &k);

	InitMaterializedSRF(fcinfo, 0);
	for (int h = 1; h <= horizon; h++)
	{
		Datum		values[13];
		bool		isnull[13] = {0};
		double		f = point(&model, h);
		double		spread = sd * sqrt(variance_factor(&model, h, n));

		values[0] = Int32GetDatum(h);
		values[1] = ore_numeric(f);
		if (isnan(spread))
		{
			for (int i = 2; i <= 5; i++)
				isnull[i] = true;
		}
		else
		{
			values[2] = ore_numeric(f - Z80 * spread);
			values[3] = ore_numeric(f + Z80 * spread);
			values[4] = ore_numeric(f - Z95 * spread);
			values[5] = ore_numeric(f + Z95 * spread);
		}
		values[6] = CStringGetTextDatum(method_names[model.method]);
		values[7] = Float8GetDatum(round4(model.alpha));
		isnull[7] = isnan(model.alpha);
		values[8] = Float8GetDatum(round4(model.beta));
		isnull[8] = isnan(model.beta);
		values[9] = Float8GetDatum(round4(model.gamma));
		isnull[9] = isnan(model.gamma);
		if (isnan(sd))
			isnull[10] = true;
		else
			values[10] = ore_numeric(sd);
		if (isnan(mape))
			isnull[11] = true;
		else
			values[11] = percent_numeric(mape);
		values[12] = Int32GetDatum(k);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, isnull);
	}
	return (Datum) 0;
}
